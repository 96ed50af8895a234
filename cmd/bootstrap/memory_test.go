package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		limit int64
		ok    bool
	}{
		{"1024 MB function", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 1024 << 20 / 10 * 9, true},
		{"10 GB function", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}, 10240 << 20 / 10 * 9, true},
		{"GOMEMLIMIT wins", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "GOMEMLIMIT": "500MiB"}, 0, false},
		{"outside Lambda", map[string]string{}, 0, false},
		{"garbage", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, 0, false},
		{"zero", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "0"}, 0, false},
		{"over a terabyte", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1048577"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit, ok := memoryLimit(func(k string) string { return tt.env[k] })
			if limit != tt.limit || ok != tt.ok {
				t.Errorf("memoryLimit = %d, %v; want %d, %v", limit, ok, tt.limit, tt.ok)
			}
		})
	}
}
