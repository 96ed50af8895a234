package csvstream

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"6291456", 6291456, true},
		{"8MiB", 8 << 20, true},
		{"8 MiB", 8 << 20, true},
		{" 8MiB\n", 8 << 20, true}, // as an environment variable may hold it
		{"512KiB", 512 << 10, true},
		{"6MB", 6e6, true},
		{"1GB", 1e9, true},
		{"1G", 1 << 30, true},
		{"1GiB", 1 << 30, true},
		{"1KB", 1000, true},
		{"1M", 1 << 20, true},
		{"64k", 64 << 10, true},
		{"1mib", 1 << 20, true},
		{"10b", 10, true},
		{"0", 0, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"8TiB", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
