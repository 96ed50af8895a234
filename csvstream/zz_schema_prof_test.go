package csvstream

import (
	"strconv"
	"strings"
	"testing"
)

func BenchmarkZZParseWide(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"fields":[`)
	for i := range 90000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"name":"c` + strconv.Itoa(i) + `","type":"integer"}`)
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSchema(data); err != nil {
			b.Fatal(err)
		}
	}
}
