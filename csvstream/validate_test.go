package csvstream

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testRecord returns a Record holding fields, numbered num, by scanning one
// CSV line in which every field is quoted. It needs at least one field.
func testRecord(num int64, fields ...string) *Record {
	if len(fields) == 0 {
		panic("testRecord: no fields")
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if f == "" || strings.ContainsAny(f, ",\"\r\n") {
			f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		b.WriteString(f)
	}
	b.WriteString("\n")
	s, err := NewScanner(strings.NewReader(b.String()), ScanOptions{})
	if err != nil {
		panic(err)
	}
	if !s.Scan() {
		panic(fmt.Sprintf("testRecord: no record in %q: %v", b.String(), s.Err()))
	}
	rec := s.Record()
	if rec.Err != nil || rec.NumFields() != len(fields) {
		panic(fmt.Sprintf("testRecord: %q scanned as %d fields, error %v", b.String(), rec.NumFields(), rec.Err))
	}
	rec.Num = num
	return rec
}

// testValidator returns a Validator for the schema JSON (none if empty) and
// the header labels.
func testValidator(t testing.TB, schema string, header ...string) *Validator {
	t.Helper()
	var s *Schema
	if schema != "" {
		var err error
		if s, err = ParseSchema([]byte(schema)); err != nil {
			t.Fatalf("ParseSchema: %v", err)
		}
	}
	v, err := NewValidator(s, testRecord(0, header...))
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

func codes(errs []FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Code)
	}
	return out
}

// checkOKAndBad checks the values of v's first column: each of ok with no
// error, each of bad with one type error.
func checkOKAndBad(t *testing.T, v *Validator, ok, bad []string) {
	t.Helper()
	for _, val := range ok {
		if errs := v.Check(testRecord(1, val, "x"), nil); len(errs) != 0 {
			t.Errorf("%q: got %v, want no error", val, errs)
		}
	}
	for _, val := range bad {
		if errs := v.Check(testRecord(1, val, "x"), nil); len(errs) != 1 || errs[0].Code != CodeTypeError {
			t.Errorf("%q: got %v, want one type error", val, errs)
		}
	}
}

// TestPatternsTakeEveryDirective checks that a date, time or datetime
// pattern takes directives of the other kind, as strptime and so the
// Table Schema spec do: a date field written as midnight datetimes, as SQL
// exports write dates, is read as its day.
func TestPatternsTakeEveryDirective(t *testing.T) {
	tests := []struct {
		typ, format string
		ok, bad     []string
	}{
		{"date", "%Y-%m-%d %H:%M:%S", []string{"2024-01-15 00:00:00", "2024-02-29 23:59:59"}, []string{"2024-01-15", "2024-02-30 00:00:00", "2024-01-15 24:00:00"}},
		{"date", "%Y-%m-%dT%H:%M:%SZ", []string{"2024-01-15T10:30:00Z"}, []string{"2024-01-15T10:30:00"}},
		{"date", "%d/%m/%Y %H:%M", []string{"15/01/2024 10:30"}, []string{"15/01/2024 25:30"}},
		{"time", "%Y-%m-%d %H:%M:%S", []string{"1899-12-30 10:30:00"}, []string{"1899-12-30 10:60:00", "1899-02-30 10:30:00"}},
		{"datetime", "%Y-%m-%d", []string{"2024-01-15"}, []string{"2024-01-15 10:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.format, func(t *testing.T) {
			v := testValidator(t, fmt.Sprintf(`{"fields": [{"name": "f", "type": %q, "format": %q}, {"name": "g"}]}`, tt.typ, tt.format), "f", "g")
			checkOKAndBad(t, v, tt.ok, tt.bad)
		})
	}
	// The values are the day, the time of day and midnight: bounds and
	// uniqueness compare those.
	v := testValidator(t, `{"fields": [
		{"name": "d", "type": "date", "format": "%Y-%m-%d %H:%M:%S", "constraints": {"maximum": "2024-01-15", "unique": true}},
		{"name": "t", "type": "time", "format": "%Y-%m-%d %H:%M", "constraints": {"maximum": "12:00:00"}},
		{"name": "dt", "type": "datetime", "format": "%Y-%m-%d", "constraints": {"minimum": "2024-01-15T00:00:00Z"}}]}`, "d", "t", "dt")
	for _, tc := range []struct {
		row   []string
		codes string
	}{
		{[]string{"2024-01-15 23:59:59", "2030-06-01 12:00", "2024-01-15"}, ""},
		{[]string{"2024-01-15 10:00:00", "1899-12-30 11:00", "2024-01-16"}, "unique-error"},
		{[]string{"2024-01-16 00:00:00", "1899-12-30 12:01", "2024-01-14"}, "constraint-error constraint-error constraint-error"},
	} {
		var codes []string
		for _, e := range v.Check(testRecord(1, tc.row...), nil) {
			codes = append(codes, e.Code)
		}
		if got := strings.Join(codes, " "); got != tc.codes {
			t.Errorf("%q: codes %q, want %q", tc.row, got, tc.codes)
		}
	}
}

func TestTypes(t *testing.T) {
	tests := []struct {
		typ, format string
		ok          []string
		bad         []string
	}{
		{"integer", "", []string{"0", "-0", "+5", "42", "007", "-9223372036854775808", "9223372036854775807"},
			[]string{" 1", "1 ", "1.0", "1e3", "abc", "+", "-", "0x10", "1_000", "--1", "١"}},
		{"number", "", []string{"1e3", "-0", "+5", ".5", "5.", "-.5e-3", "1.5E+3", "007", "NaN", "INF", "-INF", "1e400", "nan", "inf", "-inf", "Inf", "+INF", "nAN"},
			[]string{"1,5", " 1", "e3", ".", "1e", "1e+", "Infinity", "-NaN", "+nan", "infs", "in", "--inf", "0x1p3", "--1", "1.2.3", "+-1", "1_0", "5%"}},
		{"boolean", "", []string{"true", "True", "TRUE", "1", "false", "False", "FALSE", "0"},
			[]string{"yes", "tRue", "2", " true", "t"}},
		{"date", "", []string{"2024-02-29", "2000-02-29", "2023-12-31", "0001-01-01"},
			[]string{"2023-02-29", "1900-02-29", "2024-04-31", "2024-06-31", "2024-09-31", "2024-11-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-01", "24-01-01", "2024-01-01T00:00:00Z", "2024/01/01", " 2024-01-01"}},
		{"date", "%d/%m/%Y", []string{"29/02/2024", "1/2/2024", "31/12/1999"},
			[]string{"29/02/2023", "2024-02-01", "32/01/2024", "00/01/2024", "01/13/2024", "1/2/24", "01/02/2024 "}},
		{"date", "%Y%m%d", []string{"20240131", "2024131"}, []string{"20240132", "20241301", "20240230"}}, // %m takes one digit when two make no month
		{"date", "%d.%m.%y", []string{"31.12.99", "29.02.00"}, []string{"29.02.01", "31.12.1999"}},
		{"time", "", []string{"00:00:00", "23:59:59", "12:30:00.123", "12:30:00Z", "12:30:00+05:30", "12:30:00.5-01:00", "12:30:00+05"},
			[]string{"24:00:00", "12:60:00", "12:30", "12:30:00 ", "12:30:60", "12:30:00+0530", "1:30:00", "12:30:00.", "12:00:00+24:00", "12:00:00+05:60"}},
		{"time", "%H:%M%z", []string{"12:00+2359", "12:00-0530", "12:00+05"}, []string{"12:00+2400", "12:00", "12:00+5", "12:00+24"}},
		{"time", "%H:%M", []string{"9:05", "09:05", "23:59"}, []string{"24:00", "12:60", "09:05:00", "9h05"}},
		{"date", "fmt:%d/%m/%Y", []string{"15/06/2024"}, []string{"2024-06-15", "fmt:15/06/2024"}}, // the prefix of Table Schema before v1
		{"datetime", "", []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789+01:00", "2024-01-02 03:04:05", "2024-01-02t03:04:05z", "2024-02-29T23:59:59-12:00"},
			[]string{"2024-01-02T03:04:05+0100", "2024-01-02", "2024-02-30T00:00:00Z", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05.1234567890Z", "2024-01-02T24:00:00Z", "2024-01-02X03:04:05Z",
				"2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05ZZ", "2024-01-02T03:04:05Z0", "2024-01-02T03:04:05-24:00",
				"2024-01-02T03:04:05.", "2024-01-02T03:04:05+"}},
		{"datetime", "%d/%m/%Y %H:%M", []string{"31/01/2024 13:45", "1/1/2024 0:00"}, []string{"31/01/2024", "31/01/2024 13:45:00"}},
		{"datetime", "%Y-%m-%dT%H:%M:%S.%f%z", []string{"2024-01-02T03:04:05.123+0100", "2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.123-01:30"},
			[]string{"2024-01-02T03:04:05+0100", "2024-01-02T03:04:05.123", "2024-01-02T03:04:60.1Z"}},
		{"datetime", "100%% at %H:%M on %Y-%m-%d", []string{"100% at 10:00 on 2024-01-01"}, []string{"100 at 10:00 on 2024-01-01"}},
		{"year", "", []string{"2024", "0999", "0000"}, []string{"24", "20245", "-202", "+202", "２０２４", "2024.0"}},
		{"string", "", []string{"", "anything at all", "ünïcödé"}, nil},
		{"string", "email", []string{"a@b.co", "a.b+c@sub.example.com", "ü@exämple.de"},
			[]string{"ab.co", "@b.co", "a@b", "a@@b.co", "a@b@c.co", "a @b.co", "a@b.", "a@.co", "a@b.co\t",
				"a..b@example.com", ".a@example.com", "a.@example.com", "a@example..com", "someone.else@mail..example.com"}},
		{"string", "uri", []string{"https://example.com/x?y=1", "mailto:a@b.co", "urn:isbn:0451450523", "s3://bucket/key"},
			[]string{"example.com", "://x", "http:", "http://a b", "http://a\tb", "1http://x", "ht tp://x"}},
		{"string", "uuid", []string{"123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"},
			[]string{"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400", "g23e4567-e89b-12d3-a456-426614174000", "{123e4567-e89b-12d3-a456-426614174000}"}},
		{"any", "", []string{"whatever", "1", "2024-01-01"}, nil},
	}
	for _, tt := range tests {
		name := tt.typ
		if tt.format != "" {
			name += "/" + tt.format
		}
		t.Run(name, func(t *testing.T) {
			f := map[string]any{"name": "f", "type": tt.typ}
			if tt.format != "" {
				f["format"] = tt.format
			}
			// No missing values, so that "" is a value like any other, and a
			// second column, so that a row is never blank.
			schema, _ := json.Marshal(map[string]any{"fields": []any{f, map[string]any{"name": "g"}}, "missingValues": []string{}})
			v := testValidator(t, string(schema), "f", "g")
			for _, val := range tt.ok {
				if errs := v.Check(testRecord(1, val, "x"), nil); len(errs) != 0 {
					t.Errorf("%q: got %v, want no error", val, errs)
				}
			}
			for _, val := range tt.bad {
				errs := v.Check(testRecord(1, val, "x"), nil)
				if len(errs) != 1 || errs[0].Code != CodeTypeError || errs[0].Field != "f" || !strings.HasPrefix(errs[0].Message, "value "+quote([]byte(val))+" is ") {
					t.Errorf("%q: got %v, want one type error", val, errs)
				}
			}
		})
	}
}

func TestTypeErrorMessages(t *testing.T) {
	tests := []struct {
		field string
		value string
		want  string
	}{
		{`{"name": "f", "type": "integer"}`, "abc", `value "abc" is not an integer`},
		{`{"name": "f", "type": "integer"}`, "99999999999999999999", `value "99999999999999999999" is out of the 64-bit integer range`},
		{`{"name": "f", "type": "number"}`, "1,5", `value "1,5" is not a number`},
		{`{"name": "f", "type": "boolean"}`, "yes", `value "yes" is not a boolean (one of true, True, TRUE, 1, false, False, FALSE, 0)`},
		{`{"name": "f", "type": "boolean", "trueValues": ["Y"], "falseValues": ["N"]}`, "true", `value "true" is not a boolean (one of Y, N)`},
		{`{"name": "f", "type": "date"}`, "2023-02-29", `value "2023-02-29" is not a date in the form YYYY-MM-DD`},
		{`{"name": "f", "type": "date", "format": "%d/%m/%Y"}`, "2023-02-01", `value "2023-02-01" is not a date in the format "%d/%m/%Y"`},
		{`{"name": "f", "type": "time"}`, "25:00:00", `value "25:00:00" is not an ISO 8601 time such as 10:00:00 (fraction and zone optional)`},
		{`{"name": "f", "type": "datetime"}`, "yesterday", `value "yesterday" is not an ISO 8601 datetime such as 2024-01-15T10:00:00Z (the T may be a space; fraction and zone optional)`},
		{`{"name": "f", "type": "datetime"}`, "2024-01-15T25:00:00", `value "2024-01-15T25:00:00" is not an ISO 8601 datetime such as 2024-01-15T10:00:00Z (the T may be a space; fraction and zone optional)`},
		{`{"name": "f", "type": "year"}`, "99", `value "99" is not a year (four digits)`},
		{`{"name": "f", "format": "email"}`, "nobody", `value "nobody" is not an email address`},
		{`{"name": "f", "format": "uri"}`, "nowhere", `value "nowhere" is not a URI`},
		{`{"name": "f", "format": "uuid"}`, "x", `value "x" is not a UUID`},
		{`{"name": "f", "type": "integer"}`, strings.Repeat("x", 100), `value "` + strings.Repeat("x", 80) + `"... (100 bytes) is not an integer`},
		{`{"name": "f", "type": "integer"}`, "a\"b\nc", `value "a\"b\nc" is not an integer`},
		// A long value is cut on a character boundary, not inside é.
		{`{"name": "f", "type": "integer"}`, strings.Repeat("x", 79) + "éyy", `value "` + strings.Repeat("x", 79) + `"... (83 bytes) is not an integer`},
	}
	for _, tt := range tests {
		v := testValidator(t, `{"fields": [`+tt.field+`]}`, "f")
		errs := v.Check(testRecord(1, tt.value), nil)
		want := []FieldError{{Code: CodeTypeError, Field: "f", Message: tt.want}}
		if !reflect.DeepEqual(errs, want) {
			t.Errorf("%s, %q:\n got %v\nwant %v", tt.field, tt.value, errs, want)
		}
	}
}

func TestConstraints(t *testing.T) {
	tests := []struct {
		name  string
		field string
		value string
		want  []string // messages of constraint errors; none means valid
	}{
		{"required present", `{"name": "f", "constraints": {"required": true}}`, "x", nil},
		{"required missing", `{"name": "f", "constraints": {"required": true}}`, "", []string{"a value is required"}},
		{"required missing integer", `{"name": "f", "type": "integer", "constraints": {"required": true}}`, "", []string{"a value is required"}},
		{"not required missing", `{"name": "f", "type": "integer", "constraints": {"minimum": 5}}`, "", nil},

		{"integer max ok", `{"name": "f", "type": "integer", "constraints": {"maximum": 1000}}`, "1000", nil},
		{"integer max", `{"name": "f", "type": "integer", "constraints": {"maximum": 1000}}`, "1200", []string{"value 1200 is above the maximum 1000"}},
		{"integer min", `{"name": "f", "type": "integer", "constraints": {"minimum": 1}}`, "0", []string{"value 0 is below the minimum 1"}},
		{"integer min string", `{"name": "f", "type": "integer", "constraints": {"minimum": "-5"}}`, "-6", []string{"value -6 is below the minimum -5"}},
		{"integer min plus", `{"name": "f", "type": "integer", "constraints": {"minimum": 5}}`, "+5", nil},
		// JSON has no integers of its own: 1.0 and 1e2 bound integers.
		{"integer bounds written as floats", `{"name": "f", "type": "integer", "constraints": {"minimum": 1.0, "maximum": 1e2}}`, "101", []string{"value 101 is above the maximum 100"}},
		{"integer bound beyond 64 bits", `{"name": "f", "type": "integer", "constraints": {"maximum": 9223372036854775807.0}}`, "9223372036854775807", nil},
		{"integer enum written as floats", `{"name": "f", "type": "integer", "constraints": {"enum": [1.0, 2e1, 300e-1]}}`, "30", nil},
		{"length written as a float", `{"name": "f", "constraints": {"maxLength": 3.0}}`, "abcd", []string{"value \"abcd\" is 4 characters long, longer than the maximum length 3"}},
		{"number min -0", `{"name": "f", "type": "number", "constraints": {"minimum": 0}}`, "-0", nil},
		{"number min", `{"name": "f", "type": "number", "constraints": {"minimum": 0}}`, "-0.001", []string{"value -0.001 is below the minimum 0"}},
		{"number max exp", `{"name": "f", "type": "number", "constraints": {"maximum": 1e3}}`, "1.0001e3", []string{"value 1.0001e3 is above the maximum 1e3"}},
		{"number INF", `{"name": "f", "type": "number", "constraints": {"maximum": 1e308}}`, "INF", []string{"value INF is above the maximum 1e308"}},
		{"number NaN", `{"name": "f", "type": "number", "constraints": {"minimum": 0}}`, "NaN", []string{"value NaN is below the minimum 0"}},
		{"number NaN under a maximum alone", `{"name": "f", "type": "number", "constraints": {"maximum": 100}}`, "NaN", []string{"value NaN is above the maximum 100"}},
		// Values a float64 cannot tell from the bound are compared as
		// decimals.
		{"number max beyond float64", `{"name": "f", "type": "number", "constraints": {"maximum": 9007199254740992}}`, "9007199254740993", []string{"value 9007199254740993 is above the maximum 9007199254740992"}},
		{"number max at float64", `{"name": "f", "type": "number", "constraints": {"maximum": 9007199254740992}}`, "9007199254740992.000", nil},
		{"number max just above", `{"name": "f", "type": "number", "constraints": {"maximum": 0.3}}`, "0.30000000000000001", []string{"value 0.30000000000000001 is above the maximum 0.3"}},
		{"number min tiny negative", `{"name": "f", "type": "number", "constraints": {"minimum": 0}}`, "-1e-400", []string{"value -1e-400 is below the minimum 0"}},
		{"number min huge", `{"name": "f", "type": "number", "constraints": {"minimum": 1e400}}`, "INF", nil},
		{"number max huge", `{"name": "f", "type": "number", "constraints": {"maximum": 1e400}}`, "1e401", []string{"value 1e401 is above the maximum 1e400"}},
		{"year range", `{"name": "f", "type": "year", "constraints": {"minimum": 1900, "maximum": "2100"}}`, "2101", []string{"value 2101 is above the maximum 2100"}},
		{"date min", `{"name": "f", "type": "date", "constraints": {"minimum": "2024-01-01"}}`, "2023-12-31", []string{`value "2023-12-31" is below the minimum "2024-01-01"`}},
		{"date min ok", `{"name": "f", "type": "date", "constraints": {"minimum": "2024-01-01"}}`, "2024-01-01", nil},
		{"date pattern iso bound", `{"name": "f", "type": "date", "format": "%d/%m/%Y", "constraints": {"maximum": "2024-01-31"}}`, "01/02/2024", []string{`value "01/02/2024" is above the maximum "2024-01-31"`}},
		{"date pattern own bound", `{"name": "f", "type": "date", "format": "%d/%m/%Y", "constraints": {"maximum": "31/01/2024"}}`, "31/01/2024", nil},
		{"time max", `{"name": "f", "type": "time", "constraints": {"maximum": "18:00:00"}}`, "18:00:00.001", []string{`value "18:00:00.001" is above the maximum "18:00:00"`}},
		// Times compare as XML Schema orders them: as instants on one
		// reference day, so a zone may carry a time into the day before or
		// after, and times in one zone keep their clock order.
		{"time zones equal", `{"name": "f", "type": "time", "constraints": {"maximum": "10:00:00"}}`, "11:00:00+01:00", nil},
		{"time zone into the day before", `{"name": "f", "type": "time", "constraints": {"minimum": "00:00:00"}}`, "01:00:00+02:00",
			[]string{`value "01:00:00+02:00" is below the minimum "00:00:00"`}},
		{"time zone into the day after", `{"name": "f", "type": "time", "constraints": {"maximum": "23:59:59"}}`, "23:00:00-02:00",
			[]string{`value "23:00:00-02:00" is above the maximum "23:59:59"`}},
		{"time zone before a late minimum", `{"name": "f", "type": "time", "constraints": {"minimum": "22:00:00"}}`, "01:00:00+02:00",
			[]string{`value "01:00:00+02:00" is below the minimum "22:00:00"`}},
		{"time zone under an early maximum", `{"name": "f", "type": "time", "constraints": {"maximum": "00:30:00Z"}}`, "01:00:00+02:00", nil},
		{"time maximum in the same zone", `{"name": "f", "type": "time", "constraints": {"maximum": "17:00:00+10:00"}}`, "08:00:00+10:00", nil},
		{"time minimum in the same zone", `{"name": "f", "type": "time", "constraints": {"minimum": "09:00:00+10:00"}}`, "10:00:00+10:00", nil},
		{"time range in one zone", `{"name": "f", "type": "time", "constraints": {"minimum": "09:00:00+10:00", "maximum": "17:00:00+10:00"}}`, "12:00:00+10:00", nil},
		{"time range in one zone, as UTC", `{"name": "f", "type": "time", "constraints": {"minimum": "09:00:00+10:00", "maximum": "17:00:00+10:00"}}`, "02:00:00Z", nil},
		{"time range in one zone, the evening before in UTC", `{"name": "f", "type": "time", "constraints": {"minimum": "09:00:00+10:00", "maximum": "17:00:00+10:00"}}`, "23:00:00Z",
			[]string{`value "23:00:00Z" is above the maximum "17:00:00+10:00"`}},
		{"time range in one zone, outside", `{"name": "f", "type": "time", "constraints": {"minimum": "09:00:00+10:00", "maximum": "17:00:00+10:00"}}`, "18:00:00+10:00",
			[]string{`value "18:00:00+10:00" is above the maximum "17:00:00+10:00"`}},
		{"datetime zones equal", `{"name": "f", "type": "datetime", "constraints": {"maximum": "2024-01-01T00:00:00Z"}}`, "2024-01-01T01:00:00+01:00", nil},
		{"datetime max", `{"name": "f", "type": "datetime", "constraints": {"maximum": "2024-01-01T00:00:00Z"}}`, "2024-01-01T00:00:00.000000001Z", []string{`value "2024-01-01T00:00:00.000000001Z" is above the maximum "2024-01-01T00:00:00Z"`}},
		// A patterned time or datetime is the instant it names: its
		// seconds, fraction and zone count, as in ISO 8601.
		{"time pattern zone", `{"name": "f", "type": "time", "format": "%H:%M%z", "constraints": {"maximum": "10:00:00"}}`, "11:00+0100", nil},
		{"time pattern zone above", `{"name": "f", "type": "time", "format": "%H:%M%z", "constraints": {"maximum": "10:00:00"}}`, "11:00+0000",
			[]string{`value "11:00+0000" is above the maximum "10:00:00"`}},
		{"time pattern fraction", `{"name": "f", "type": "time", "format": "%H:%M:%S.%f", "constraints": {"maximum": "10:00:00.5"}}`, "10:00:00.6",
			[]string{`value "10:00:00.6" is above the maximum "10:00:00.5"`}},
		{"datetime pattern fraction", `{"name": "f", "type": "datetime", "format": "%Y-%m-%d %H:%M:%S.%f", "constraints": {"maximum": "2024-01-01T00:00:00.5Z"}}`, "2024-01-01 00:00:00.6",
			[]string{`value "2024-01-01 00:00:00.6" is above the maximum "2024-01-01T00:00:00.5Z"`}},
		{"datetime pattern seconds", `{"name": "f", "type": "datetime", "format": "%Y-%m-%d %H:%M:%S.%f", "constraints": {"maximum": "2024-01-01T00:00:00.5Z"}}`, "2024-01-01 00:00:01.0",
			[]string{`value "2024-01-01 00:00:01.0" is above the maximum "2024-01-01T00:00:00.5Z"`}},
		{"datetime min across days", `{"name": "f", "type": "datetime", "constraints": {"minimum": "2024-03-01T00:00:00Z"}}`, "2024-02-29T23:30:00-01:00", nil},

		{"minLength chars", `{"name": "f", "constraints": {"minLength": 5}}`, "héllo", nil},
		{"minLength", `{"name": "f", "constraints": {"minLength": 5}}`, "héll", []string{`value "héll" is 4 characters long, shorter than the minimum length 5`}},
		{"maxLength", `{"name": "f", "constraints": {"maxLength": 2}}`, "abc", []string{`value "abc" is 3 characters long, longer than the maximum length 2`}},
		{"maxLength zero", `{"name": "f", "constraints": {"maxLength": 0}}`, "é", []string{`value "é" is 1 character long, longer than the maximum length 0`}},
		{"pattern ok", `{"name": "f", "constraints": {"pattern": "[a-z]+"}}`, "abc", nil},
		{"pattern anchored end", `{"name": "f", "constraints": {"pattern": "[a-z]+"}}`, "abc1", []string{`value "abc1" does not match the pattern "[a-z]+"`}},
		{"pattern anchored start", `{"name": "f", "constraints": {"pattern": "[a-z]+"}}`, "1abc", []string{`value "1abc" does not match the pattern "[a-z]+"`}},
		{"pattern alternation", `{"name": "f", "constraints": {"pattern": "a|b"}}`, "ab", []string{`value "ab" does not match the pattern "a|b"`}},
		{"pattern quoted to its end", `{"name": "f", "constraints": {"pattern": "v\\Q1.0"}}`, "v1.0", nil},
		{"pattern quoted to its end, not matched", `{"name": "f", "constraints": {"pattern": "v\\Q1.0"}}`, "v1x0", []string{`value "v1x0" does not match the pattern "v\\Q1.0"`}},
		{"pattern multi-line flag", `{"name": "f", "constraints": {"pattern": "(?m)^a$"}}`, "a\nb", []string{`value "a\nb" does not match the pattern "(?m)^a$"`}},
		{"enum string", `{"name": "f", "constraints": {"enum": ["a", "b"]}}`, "c", []string{`value "c" is not one of "a", "b"`}},
		{"enum string ok", `{"name": "f", "constraints": {"enum": ["a", "b"]}}`, "b", nil},
		{"enum message lists ten", `{"name": "f", "constraints": {"enum": ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11"]}}`, "nope",
			[]string{`value "nope" is not one of "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10" and 1 more`}},
		{"email with constraints", `{"name": "f", "format": "email", "constraints": {"maxLength": 5, "pattern": ".*@b\\.co"}}`, "ab@c.de",
			[]string{`value "ab@c.de" is 7 characters long, longer than the maximum length 5`, `value "ab@c.de" does not match the pattern ".*@b\\.co"`}},
		// %y: 69 to 99 are 1969 to 1999, 00 to 68 are 2000 to 2068.
		{"two-digit year 69", `{"name": "f", "type": "date", "format": "%d.%m.%y", "constraints": {"maximum": "2068-12-31"}}`, "01.01.69", nil},
		{"two-digit year 68", `{"name": "f", "type": "date", "format": "%d.%m.%y", "constraints": {"minimum": "1969-01-01"}}`, "31.12.68", nil},
		{"enum integer typed", `{"name": "f", "type": "integer", "constraints": {"enum": [1, "2"]}}`, "02", nil},
		{"enum integer", `{"name": "f", "type": "integer", "constraints": {"enum": [1, 2]}}`, "3", []string{`value 3 is not one of 1, 2`}},
		{"enum number typed", `{"name": "f", "type": "number", "constraints": {"enum": [1.5, 0]}}`, "1.50", nil},
		{"enum number -0", `{"name": "f", "type": "number", "constraints": {"enum": [1.5, 0]}}`, "-0.0", nil},
		{"enum number beyond float64", `{"name": "f", "type": "number", "constraints": {"enum": [1234567890123456789]}}`, "1234567890123456788", []string{"value 1234567890123456788 is not one of 1234567890123456789"}},
		{"enum number NaN", `{"name": "f", "type": "number", "constraints": {"enum": ["NaN"]}}`, "NaN", nil},
		{"enum number nan", `{"name": "f", "type": "number", "constraints": {"enum": ["NaN"]}}`, "nan", nil},
		{"number -inf", `{"name": "f", "type": "number", "constraints": {"minimum": -1e308}}`, "-inf", []string{"value -inf is below the minimum -1e308"}},
		{"enum boolean", `{"name": "f", "type": "boolean", "constraints": {"enum": [true]}}`, "1", nil},
		{"enum boolean no", `{"name": "f", "type": "boolean", "constraints": {"enum": [true]}}`, "FALSE", []string{`value "FALSE" is not one of true`}},
		{"enum date", `{"name": "f", "type": "date", "constraints": {"enum": ["2024-01-01"]}}`, "2024-01-02", []string{`value "2024-01-02" is not one of "2024-01-01"`}},
		{"enum long", `{"name": "f", "type": "integer", "constraints": {"enum": [1,2,3,4,5,6,7,8,9,10,11,12]}}`, "0", []string{`value 0 is not one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more`}},

		{"every broken constraint", `{"name": "f", "constraints": {"minLength": 4, "pattern": "[0-9]+", "enum": ["1234"]}}`, "ab",
			[]string{`value "ab" is 2 characters long, shorter than the minimum length 4`, `value "ab" does not match the pattern "[0-9]+"`, `value "ab" is not one of "1234"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValidator(t, `{"fields": [`+tt.field+`, {"name": "g"}]}`, "f", "g")
			errs := v.Check(testRecord(1, tt.value, "x"), nil)
			var want []FieldError
			for _, m := range tt.want {
				want = append(want, FieldError{Code: CodeConstraintError, Field: "f", Message: m})
			}
			if !reflect.DeepEqual(errs, want) {
				t.Errorf("got  %v\nwant %v", errs, want)
			}
		})
	}
}

func TestCheckRecord(t *testing.T) {
	const schema = `{"fields": [
		{"name": "id", "type": "integer"},
		{"name": "name", "constraints": {"maxLength": 3}},
		{"name": "price", "type": "number"}]}`
	header := []string{"id", "name", "price"}
	tests := []struct {
		name   string
		schema string
		rec    *Record
		want   []FieldError
	}{
		{"valid", schema, testRecord(1, "1", "abc", "2.5"), nil},
		{"valid without schema", "", testRecord(1, "x", "y", "z"), nil},
		{"scan error", schema, &Record{Num: 1, Err: &ScanError{Code: CodeQuoteError, Message: "quote never closed"}},
			[]FieldError{{Code: CodeQuoteError, Message: "quote never closed"}}},
		{"scan error in a field", schema, &Record{Num: 1, Err: &ScanError{Code: CodeQuoteError, Message: "stray quote", Field: 2}},
			[]FieldError{{Code: CodeQuoteError, Field: "name", Message: "stray quote"}}},
		{"scan error in the first field", schema, &Record{Num: 1, Err: &ScanError{Code: CodeQuoteError, Message: "stray quote", Field: 1}},
			[]FieldError{{Code: CodeQuoteError, Field: "id", Message: "stray quote"}}},
		{"scan error beyond the header", schema, &Record{Num: 1, Err: &ScanError{Code: CodeQuoteError, Message: "stray quote", Field: 4}},
			[]FieldError{{Code: CodeQuoteError, Message: "stray quote"}}},
		{"too large", "", &Record{Num: 1, Err: &ScanError{Code: CodeRecordTooLarge, Message: "over 1 MiB"}},
			[]FieldError{{Code: CodeRecordTooLarge, Message: "over 1 MiB"}}},
		{"invalid UTF-8", schema, testRecord(1, "x", "a\xffb", "\xc3"), []FieldError{
			{Code: CodeEncodingError, Field: "name", Message: "column 2 is not valid UTF-8 (bad byte at offset 1)"},
			{Code: CodeEncodingError, Field: "price", Message: "column 3 is not valid UTF-8 (bad byte at offset 0)"},
		}},
		{"invalid UTF-8 beyond header", "", testRecord(1, "a", "b", "c", "\xff"), []FieldError{
			{Code: CodeEncodingError, Message: "column 4 is not valid UTF-8 (bad byte at offset 0)"},
		}},
		{"blank", schema, testRecord(1, "", "", ""), []FieldError{{Code: CodeBlankRow, Message: "every cell is empty"}}},
		{"blank line", schema, testRecord(1, ""), []FieldError{{Code: CodeBlankRow, Message: "every cell is empty"}}},
		{"blank without schema", "", testRecord(1, "", "", ""), []FieldError{{Code: CodeBlankRow, Message: "every cell is empty"}}},
		{"empty cells beyond header", "", testRecord(1, "", "", "", "", ""), []FieldError{
			{Code: CodeExtraCell, Message: `2 extra cells in columns 4 to 5 (the header has 3); the first holds ""`},
		}},
		{"extra cells", schema, testRecord(1, "1", "a", "2", "x", "y", "z"), []FieldError{
			{Code: CodeExtraCell, Message: `3 extra cells in columns 4 to 6 (the header has 3); the first holds "x"`},
		}},
		{"missing cells", schema, testRecord(1, "1"), []FieldError{
			{Code: CodeMissingCell, Field: "name", Message: "2 missing cells: the row ends before column 2 (the header has 3)"},
		}},
		{"missing cells without schema", "", testRecord(1, "1", "2"), []FieldError{
			{Code: CodeMissingCell, Field: "price", Message: "missing cell: the row ends before column 3"},
		}},
		{"every error", schema, testRecord(1, "one", "abcd"), []FieldError{
			{Code: CodeMissingCell, Field: "price", Message: "missing cell: the row ends before column 3"},
			{Code: CodeTypeError, Field: "id", Message: `value "one" is not an integer`},
			{Code: CodeConstraintError, Field: "name", Message: `value "abcd" is 4 characters long, longer than the maximum length 3`},
		}},
		{"extra and type", schema, testRecord(1, "1", "a", "x", "z"), []FieldError{
			{Code: CodeExtraCell, Message: `extra cell in column 4 (the header has 3): "z"`},
			{Code: CodeTypeError, Field: "price", Message: `value "x" is not a number`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValidator(t, tt.schema, header...)
			prev := []FieldError{{Code: "earlier"}}
			errs := v.Check(tt.rec, prev)
			if !reflect.DeepEqual(errs[1:], tt.want) && !(len(errs) == 1 && tt.want == nil) {
				t.Errorf("got  %v\nwant %v", errs[1:], tt.want)
			}
			if errs[0].Code != "earlier" {
				t.Errorf("Check changed the errors passed in: %v", errs)
			}
		})
	}
}

func TestFieldErrorError(t *testing.T) {
	e := FieldError{Code: CodeTypeError, Field: "price", Message: `value "x" is not a number`}
	if got, want := e.Error(), `type-error: field "price": value "x" is not a number`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e = FieldError{Code: CodeBlankRow, Message: "every cell is empty"}
	if got, want := e.Error(), "blank-row: every cell is empty"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMissingValues(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		value   string
		want    []string // codes
		wantOut string   // AppendJSON of a valid row
	}{
		{"default empty is null", `{"fields": [{"name": "f", "type": "integer"}, {"name": "g"}]}`, "", nil, `{"f":null,"g":"x"}`},
		{"NA is null", `{"fields": [{"name": "f", "type": "integer"}, {"name": "g"}], "missingValues": ["NA", "-"]}`, "NA", nil, `{"f":null,"g":"x"}`},
		{"dash is null", `{"fields": [{"name": "f", "type": "integer"}, {"name": "g"}], "missingValues": ["NA", "-"]}`, "-", nil, `{"f":null,"g":"x"}`},
		{"empty is not missing then", `{"fields": [{"name": "f", "type": "integer"}, {"name": "g"}], "missingValues": ["NA"]}`, "", []string{CodeTypeError}, ""},
		{"no missing values: empty string", `{"fields": [{"name": "f"}, {"name": "g"}], "missingValues": []}`, "", nil, `{"f":"","g":"x"}`},
		{"no missing values: empty integer", `{"fields": [{"name": "f", "type": "integer"}, {"name": "g"}], "missingValues": []}`, "", []string{CodeTypeError}, ""},
		{"required NA", `{"fields": [{"name": "f", "constraints": {"required": true}}, {"name": "g"}], "missingValues": ["NA"]}`, "NA", []string{CodeConstraintError}, ""},
		{"null skips constraints", `{"fields": [{"name": "f", "constraints": {"minLength": 3, "enum": ["abc"]}}, {"name": "g"}], "missingValues": ["NA"]}`, "NA", nil, `{"f":null,"g":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValidator(t, tt.schema, "f", "g")
			rec := testRecord(1, tt.value, "x")
			errs := v.Check(rec, nil)
			if !reflect.DeepEqual(codes(errs), tt.want) {
				t.Fatalf("got %v, want codes %v", errs, tt.want)
			}
			if errs == nil {
				if got := string(v.AppendJSON(nil, rec)); got != tt.wantOut {
					t.Errorf("AppendJSON = %s, want %s", got, tt.wantOut)
				}
			}
		})
	}
}

// checkRows runs rows through v and compares each row's error codes.
func checkRows(t *testing.T, v *Validator, rows [][]string, want [][]string) {
	t.Helper()
	for i, row := range rows {
		errs := v.Check(testRecord(int64(i+1), row...), nil)
		if got := codes(errs); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d %q: got %v, want codes %v", i+1, row, errs, want[i])
		}
	}
}

// TestDatetimeForms checks that the default datetime accepts what its type
// error describes ("such as 2024-01-15T10:00:00Z, the T may be a space;
// fraction and zone optional"), and nothing looser.
func TestDatetimeForms(t *testing.T) {
	v := testValidator(t, `{"fields": [{"name": "f", "type": "datetime"}]}`, "f")
	tests := []struct {
		value string
		ok    bool
	}{
		{"2024-01-15T10:00:00Z", true},
		{"2024-01-15 10:00:00", true},
		{"2024-01-15t10:00:00", true},
		{"2024-01-15T10:00:00.123", true},
		{"2024-01-15T10:00:00+01:00", true},
		{"2024-01-15 10:00:00.5-05:30", true},
		// A zone of whole hours, as PostgreSQL writes timestamptz.
		{"2024-01-02 03:04:05+00", true},
		{"2024-01-02 03:04:05.25-05", true},
		{"2024-01-02 03:04:05+0", false},
		{"2024-01-02 03:04:05+24", false},
		{"2024-01-02 03:04:05+01:", false},
		{"2024-01-15", false},
		{"2024-01-15T10:00", false},
		{"2024-01-15_10:00:00", false},
		{"20240115T100000Z", false},
		{"2024-01-15T10:00:00 Z", false},
	}
	for _, tt := range tests {
		want := [][]string{{CodeTypeError}}
		if tt.ok {
			want = [][]string{nil}
		}
		checkRows(t, v, [][]string{{tt.value}}, want)
	}
}

func TestUnique(t *testing.T) {
	const schema = `{"fields": [
		{"name": "id", "type": "integer", "constraints": {"unique": true}},
		{"name": "code", "constraints": {"unique": true}},
		{"name": "n", "type": "integer", "constraints": {"maximum": 10}}]}`
	v := testValidator(t, schema, "id", "code", "n")
	checkRows(t, v,
		[][]string{
			{"1", "a", "1"},
			{"01", "b", "1"},   // 01 is the integer 1
			{"2", "a", "1"},    // code a again
			{"3", "c", "99"},   // invalid row: its values are not remembered
			{"3", "c", "1"},    // so this one is fine
			{"3", "C", "1"},    // 3 again; C differs from c
			{"", "", "1"},      // nulls do not count
			{"", "", "1"},      // still not
			{"4", "d", "x"},    // type error elsewhere: not remembered
			{"4", "d", "1"},    // fine
			{"1", "a", "1"},    // both repeat
			{"+5", "e", "1"},   // fine
			{"5", "f", "1"},    // +5 == 5
			{"1", "a", "oops"}, // repeats reported alongside other errors
			{"1", "ab", "20"},  // id repeats, constraint broken
			{"6", "g\"h", "1"}, // quoted values are fine
			{"7", "g\"h", "1"}, // and compared after unquoting
			{"-0", "z", "1"},   // -0 == 0, first time
			{"0", "zz", "1"},   // 0 repeats -0
			{"8", "12", "1"},   // a string that looks like a number
			{"12", "8", "1"},   // columns are separate
		},
		[][]string{
			nil,
			{CodeUniqueError},
			{CodeUniqueError},
			{CodeConstraintError},
			nil,
			{CodeUniqueError},
			nil,
			nil,
			{CodeTypeError},
			nil,
			{CodeUniqueError, CodeUniqueError},
			nil,
			{CodeUniqueError},
			{CodeTypeError, CodeUniqueError, CodeUniqueError},
			{CodeConstraintError, CodeUniqueError},
			nil,
			{CodeUniqueError},
			nil,
			{CodeUniqueError},
			nil,
			nil,
		})

	errs := v.Check(testRecord(30, "1", "new", "1"), nil)
	want := []FieldError{{Code: CodeUniqueError, Field: "id", Message: "value 1 is not unique: an earlier row holds it"}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("got %v, want %v", errs, want)
	}
}

func TestUniqueTypes(t *testing.T) {
	tests := []struct {
		typ, format string
		first, same string // same is a different text of the same value
		other       string
	}{
		{"number", "", "1.5", "1.50e0", "1.51"},
		{"number", "", "1234567890123456789", "1234567890123456789.0", "1234567890123456788"},
		{"number", "", "0", "-0.0e5", "1e-400"},
		{"date", "", "2024-01-01", "2024-01-01", "2024-01-02"},
		{"date", "%d/%m/%Y", "01/02/2024", "1/2/2024", "02/01/2024"},
		{"time", "", "10:00:00", "11:00:00+01:00", "10:00:01"},
		{"time", "", "23:00:00Z", "23:30:00+00:30", "01:00:00+02:00"}, // the last is 23:00Z the day before
		{"datetime", "", "2024-01-01T00:00:00Z", "2024-01-01 01:00:00+01:00", "2024-01-01T00:00:00.5Z"},
		{"boolean", "", "true", "1", "false"},
		{"year", "", "2024", "2024", "2025"},
		{"any", "", "x", "x", "X"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+tt.format, func(t *testing.T) {
			f := map[string]any{"name": "f", "type": tt.typ, "constraints": map[string]any{"unique": true}}
			if tt.format != "" {
				f["format"] = tt.format
			}
			schema, _ := json.Marshal(map[string]any{"fields": []any{f}})
			v := testValidator(t, string(schema), "f")
			checkRows(t, v, [][]string{{tt.first}, {tt.same}, {tt.other}}, [][]string{nil, {CodeUniqueError}, nil})
		})
	}
}

func TestPrimaryKey(t *testing.T) {
	const schema = `{"fields": [
		{"name": "a", "type": "integer"},
		{"name": "b"},
		{"name": "c"}],
		"primaryKey": ["a", "b"]}`
	v := testValidator(t, schema, "a", "b", "c")
	checkRows(t, v,
		[][]string{
			{"1", "x", "p"},
			{"1", "y", "p"},
			{"2", "x", "p"},
			{"1", "x", "q"},  // (1, x) again
			{"01", "x", "q"}, // still (1, x)
			{"1", "", "q"},   // primary key fields are required
			{"11", "", "q"},
			{"1", "1x", "q"},
			{"11", "x", "q"},
			{"3", "z", "q"},
		},
		[][]string{
			nil,
			nil,
			nil,
			{CodePrimaryKeyError},
			{CodePrimaryKeyError},
			{CodeConstraintError},
			{CodeConstraintError},
			nil,
			nil,
			nil,
		})
	errs := v.Check(testRecord(20, "1", "y", "r"), nil)
	want := []FieldError{{Code: CodePrimaryKeyError, Field: "a,b", Message: `primary key (a, b) = (1, "y") repeats an earlier row`}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("got %v, want %v", errs, want)
	}

	// Keys are length-prefixed, so ("ab", "c") and ("a", "bc") differ.
	strs := testValidator(t, `{"fields": [{"name": "a"}, {"name": "b"}], "primaryKey": ["a", "b"]}`, "a", "b")
	checkRows(t, strs, [][]string{{"ab", "c"}, {"a", "bc"}, {"abc", "x"}, {"ab", "c"}}, [][]string{nil, nil, nil, {CodePrimaryKeyError}})

	single := testValidator(t, `{"fields": [{"name": "id"}], "primaryKey": "id"}`, "id")
	checkRows(t, single, [][]string{{"k"}, {"k"}, {"K"}, {""}}, [][]string{nil, {CodePrimaryKeyError}, nil, {CodeBlankRow}})
	errs = single.Check(testRecord(5, "K"), nil)
	want = []FieldError{{Code: CodePrimaryKeyError, Field: "id", Message: `primary key id = "K" repeats an earlier row`}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("got %v, want %v", errs, want)
	}

	// A primary key of ISO dates or datetimes, which need no value when
	// they are not keys, is keyed by value.
	for _, tt := range []struct{ typ, a, b string }{
		{"date", "2024-01-01", "2024-01-02"},
		{"datetime", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"},
	} {
		v := testValidator(t, `{"fields": [{"name": "d", "type": "`+tt.typ+`"}, {"name": "n"}], "primaryKey": "d"}`, "d", "n")
		checkRows(t, v, [][]string{{tt.a, "x"}, {tt.b, "x"}, {tt.a, "y"}}, [][]string{nil, nil, {CodePrimaryKeyError}})
	}

	// A unique column that is also the whole primary key shares one set
	// of keys, and a repeat still breaks both; a row rejected for another
	// reason leaves its key out.
	for _, typ := range []string{"integer", "string"} {
		both := testValidator(t, `{"fields": [{"name": "id", "type": "`+typ+`", "constraints": {"unique": true}}, {"name": "n", "type": "integer"}], "primaryKey": "id"}`, "id", "n")
		checkRows(t, both,
			[][]string{{"1", "1"}, {"2", "x"}, {"2", "2"}, {"1", "3"}, {"3", "4"}, {"2", "5"}},
			[][]string{nil, {CodeTypeError}, nil, {CodeUniqueError, CodePrimaryKeyError}, nil, {CodeUniqueError, CodePrimaryKeyError}})
		if both.uniq[0].seen != &both.pkSet {
			t.Errorf("%s: the unique column that is the primary key keeps a set of its own", typ)
		}
	}
}

func TestHeader(t *testing.T) {
	const schema = `{"fields": [{"name": "id"}, {"name": "name"}, {"name": "price"}]}`
	tests := []struct {
		name   string
		header []string
		want   *HeaderError
		msg    string
	}{
		{"match", []string{"id", "name", "price"}, nil, ""},
		{"missing", []string{"id", "price"},
			&HeaderError{Missing: []string{"name"}},
			`header does not match the schema: missing "name" (want "id", "name", "price", got "id", "price")`},
		{"unexpected", []string{"id", "name", "price", "tax"},
			&HeaderError{Unexpected: []string{"tax"}},
			`header does not match the schema: unexpected "tax" (want "id", "name", "price", got "id", "name", "price", "tax")`},
		{"both", []string{"id", "Name", "price"},
			&HeaderError{Missing: []string{"name"}, Unexpected: []string{"Name"}},
			`header does not match the schema: missing "name"; unexpected "Name" (want "id", "name", "price", got "id", "Name", "price")`},
		{"order", []string{"name", "id", "price"},
			&HeaderError{OutOfOrder: true},
			`header does not match the schema: columns out of order: column 1 is "name" where the schema has "id" (want "id", "name", "price", got "name", "id", "price")`},
		{"repeated", []string{"id", "id", "name", "price"},
			&HeaderError{Unexpected: []string{"id"}},
			`header does not match the schema: unexpected "id" (want "id", "name", "price", got "id", "id", "name", "price")`},
		{"another delimiter", []string{"id;name;price"},
			&HeaderError{Missing: []string{"id", "name", "price"}, Unexpected: []string{"id;name;price"}, Delimiter: ';'},
			`header does not match the schema: is the delimiter ';'? The header splits into the schema's 3 fields at it; missing "id", "name", "price"; unexpected "id;name;price"`},
		{"tabs", []string{"id\tname\tprice"},
			&HeaderError{Missing: []string{"id", "name", "price"}, Unexpected: []string{"id\tname\tprice"}, Delimiter: '\t'},
			`header does not match the schema: is the delimiter tab? The header splits into the schema's 3 fields at it; missing "id", "name", "price"; unexpected "id\tname\tprice"`},
		// A line quoted whole is one label, whatever delimiter it holds.
		{"quoted whole", []string{"id,name,price"},
			&HeaderError{Missing: []string{"id", "name", "price"}, Unexpected: []string{"id,name,price"}},
			`header does not match the schema: missing "id", "name", "price"; unexpected "id,name,price"`},
		{"quoted whole, another delimiter inside", []string{`id;name;"price"`},
			&HeaderError{Missing: []string{"id", "name", "price"}, Unexpected: []string{`id;name;"price"`}},
			`header does not match the schema: missing "id", "name", "price"; unexpected "id;name;\"price\""`},
		{"one column, no delimiter fits", []string{"id;name"},
			&HeaderError{Missing: []string{"id", "name", "price"}, Unexpected: []string{"id;name"}},
			`header does not match the schema: missing "id", "name", "price"; unexpected "id;name"`},
	}
	s, err := ParseSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewValidator(s, testRecord(0, tt.header...))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Header(); !reflect.DeepEqual(got, tt.header) {
					t.Errorf("Header() = %q, want %q", got, tt.header)
				}
				return
			}
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("got %v, want a *HeaderError", err)
			}
			tt.want.Want = []string{"id", "name", "price"}
			tt.want.Got = tt.header
			if !reflect.DeepEqual(he, tt.want) {
				t.Errorf("got  %+v\nwant %+v", he, tt.want)
			}
			if he.Error() != tt.msg {
				t.Errorf("message\n  %s\nwant\n  %s", he.Error(), tt.msg)
			}
		})
	}
}

// TestHeaderDelimiterHintTwoFields asks about the delimiter for the
// narrowest schema it can split a header for: two fields, one delimiter.
func TestHeaderDelimiterHintTwoFields(t *testing.T) {
	s, err := ParseSchema([]byte(`{"fields": [{"name": "a"}, {"name": "b"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []byte{';', '\t', '|'} {
		_, err := NewValidator(s, testRecord(0, "a"+string(d)+"b"))
		var he *HeaderError
		if !errors.As(err, &he) || he.Delimiter != d {
			t.Errorf("header a%cb: %v; want the hint that %q is the delimiter", d, err, d)
		}
	}
}

// TestHeaderOneFieldSchemaHasNoDelimiterHint checks that a one-field
// schema's mismatched header gets no hint of another delimiter: a label
// that holds none of them does not "split into the schema's 1 fields".
func TestHeaderOneFieldSchemaHasNoDelimiterHint(t *testing.T) {
	s, err := ParseSchema([]byte(`{"fields": [{"name": "id"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewValidator(s, testRecord(0, "name"))
	var he *HeaderError
	if !errors.As(err, &he) || he.Delimiter != 0 {
		t.Fatalf("got %v; want a HeaderError without a delimiter hint", err)
	}
	if want := `header does not match the schema: missing "id"; unexpected "name"`; err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
}

// TestHeaderDelimiterHintQuotedLabels asks about the delimiter for a
// header whose labels are quoted one by one, as many exports write them
// ("id";"name"): read at the wrong delimiter, such a header breaks the
// quoting rules rather than being one label.
func TestHeaderDelimiterHintQuotedLabels(t *testing.T) {
	s, err := ParseSchema([]byte(`{"fields": [{"name": "id"}, {"name": "name"}, {"name": "price"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		schema *Schema
		header string
		want   byte
	}{
		{"semicolon, every label quoted", s, "\"id\";\"name\";\"price\"\n", ';'},
		{"tab, every label quoted", s, "\"id\"\t\"name\"\t\"price\"\r\n", '\t'},
		{"pipe, one label quoted", s, "id|\"name\"|price\n", '|'},
		{"no schema: any split of more than one label", nil, "\"a\";\"b\"\n", ';'},
		{"too few labels for the schema", s, "\"id\";\"name\"\n", 0},
		{"a quote no delimiter closes", s, "\"id;name;price\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewValidator(tt.schema, firstRecord(t, tt.header))
			var he *HeaderError
			if !errors.As(err, &he) || he.Problem == "" || he.Delimiter != tt.want {
				t.Fatalf("got %#v (%v), want a header problem with Delimiter %q", he, err, tt.want)
			}
			hint := "unusable header: is the delimiter " + delimiterName(tt.want) + "? The header reads cleanly at it; line 1: quote-error: "
			if got := err.Error(); tt.want != 0 && !strings.HasPrefix(got, hint) || tt.want == 0 && strings.Contains(got, "is the delimiter") {
				t.Errorf("message %q, want the hint %v", got, tt.want != 0)
			}
		})
	}
}

func TestHeaderErrorMessage(t *testing.T) {
	tests := []struct {
		err  *HeaderError
		want string
	}{
		{&HeaderError{Missing: []string{"id", "name"}}, `header does not match the schema: missing "id", "name"`},
		{&HeaderError{Missing: []string{"id"}, Want: []string{"id"}, Got: []string{}}, `header does not match the schema: missing "id" (want "id", got no labels)`},
		{&HeaderError{}, `header does not match the schema: the labels differ`},
		{&HeaderError{Missing: []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12"}},
			`header does not match the schema: missing "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", and 2 more`},
		{&HeaderError{Unexpected: []string{strings.Repeat("x", 39) + "é and more"}},
			`header does not match the schema: unexpected "` + strings.Repeat("x", 39) + `"...`},
		{&HeaderError{Unexpected: []string{strings.Repeat("x", 40)}},
			`header does not match the schema: unexpected "` + strings.Repeat("x", 40) + `"`},
		{ // two columns swapped past the ones the lists show
			&HeaderError{OutOfOrder: true,
				Want: []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12"},
				Got:  []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c12", "c11"}},
			`header does not match the schema: columns out of order: column 11 is "c12" where the schema has "c11"` +
				` (want "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", and 2 more,` +
				` got "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", and 2 more)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestHeaderErrorWide reads a 5,000-column header with the wrong
// delimiter: the message puts the hint first and stays short, while the
// fields keep every name.
func TestHeaderErrorWide(t *testing.T) {
	const n = 5000
	names := make([]string, n)
	fields := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("column_%04d", i+1)
		fields[i] = fmt.Sprintf(`{"name": %q}`, names[i])
	}
	s, err := ParseSchema([]byte(`{"fields": [` + strings.Join(fields, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	label := strings.Join(names, ";")
	_, err = NewValidator(s, testRecord(0, label))
	var he *HeaderError
	if !errors.As(err, &he) {
		t.Fatalf("got %v, want a *HeaderError", err)
	}
	if !slices.Equal(he.Missing, names) || !slices.Equal(he.Want, names) || !slices.Equal(he.Unexpected, []string{label}) || !slices.Equal(he.Got, []string{label}) {
		t.Errorf("the fields lost names: %d missing, %d wanted, %d unexpected, %d got", len(he.Missing), len(he.Want), len(he.Unexpected), len(he.Got))
	}
	want := `header does not match the schema: is the delimiter ';'? The header splits into the schema's 5000 fields at it; ` +
		`missing "column_0001", "column_0002", "column_0003", "column_0004", "column_0005", "column_0006", "column_0007", "column_0008", "column_0009", "column_0010", and 4990 more; ` +
		`unexpected "column_0001;column_0002;column_0003;colu"...`
	if msg := he.Error(); msg != want {
		t.Errorf("message (%d bytes)\n  %.500s\nwant\n  %s", len(msg), msg, want)
	}
}

func TestNewValidatorErrors(t *testing.T) {
	tests := []struct {
		name   string
		header *Record
		want   string
	}{
		{"nil header", nil, "validator: no header record"},
		{"broken header", &Record{Line: 1, Err: &ScanError{Code: CodeQuoteError, Message: "quote never closed"}}, "unusable header: line 1: quote-error: quote never closed"},
		{"repeated label", testRecord(0, "a", "b", "a"), `unusable header: line 1: column 3 label "a" repeats column 1`},
		// A repeated long value in a first line that is no header: the
		// message stays one short line.
		{"repeated long label", testRecord(0, strings.Repeat("y", 300_000), "b", strings.Repeat("y", 300_000)), `unusable header: line 1: column 3 label "` + strings.Repeat("y", 40) + `"... repeats column 1`},
		{"two empty labels", testRecord(0, "a", "b", "", ""), "unusable header: line 1: columns 3 and 4 both have no label (labels must differ, so at most one may be empty)"},
		{"bad UTF-8", testRecord(0, "a", "\xff"), "unusable header: line 1: column 2 label is not valid UTF-8"},
		{"blank line", testRecord(0, ""), "unusable header: line 1: the header is blank: the first line must hold the column names"},
		{"CR line ends", testRecord(0, "a", "b\r1", "2\r3"), `unusable header: line 1: column 2 label "b\r1" holds a carriage return (are the lines ended by CR alone?)`},
		{"quoted CRLF in a label", testRecord(0, "id", "Total\r\nAmount"), `unusable header: line 1: column 2 label "Total\r\nAmount" holds a carriage return (a quoted CRLF line break, which a label may not hold)`},
		// A file of CR line ends is one line: the label is cut at 40 bytes,
		// on a character boundary.
		{"CR line ends, label cut", testRecord(0, "ab", strings.Repeat("名", 14)+"\r1"), `unusable header: line 1: column 2 label "` + strings.Repeat("名", 13) + `"... holds a carriage return (are the lines ended by CR alone?)`},
		{"UTF-16LE", firstRecord(t, "\xFF\xFEa\x00,\x00b\x00\n\x00"), "unusable header: line 1: the source is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8 (for example with iconv -f UTF-16 -t UTF-8)"},
		{"quoted UTF-16LE, as Export-Csv writes it", firstRecord(t, "\xFF\xFE\x22\x00\x4E\x00\x61\x00\x6D\x00\x65\x00\x22\x00\x2C\x00\x22\x00\x41\x00\x67\x00\x65\x00\x22\x00\x0A\x00"), "unusable header: line 1: the source is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8 (for example with iconv -f UTF-16 -t UTF-8)"},
		{"UTF-16BE", firstRecord(t, "\xFE\xFF\x00a\x00,\x00b\x00\n"), "unusable header: line 1: the source is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8 (for example with iconv -f UTF-16 -t UTF-8)"},
		{"UTF-32LE", firstRecord(t, "\xFF\xFE\x00\x00a\x00\x00\x00\n\x00\x00\x00"), "unusable header: line 1: the source is UTF-32 (it starts with a UTF-32 byte order mark): convert it to UTF-8 (for example with iconv -f UTF-32 -t UTF-8)"},
		// A broken header ends the job: the message does not say that
		// scanning resumes.
		{"unclosed quote", firstRecord(t, "a,\"b\nc,d\n"), "unusable header: line 1: quote-error: line 1, column 3, field 2: quoted field is not closed before the end of the input"},
		// A file of CR line ends is one line: past the size bound it is
		// cut, and the message says why the header is so long.
		{"CR line ends past the size bound", firstRecord(t, "id,name\r"+strings.Repeat("1,n\r", 300_000)),
			"unusable header: line 1: record-too-large: record starting on line 1 is longer than 1048576 bytes; the line holds a carriage return but no line feed (are the lines ended by CR alone?)"},
		// A CRLF header broken by a quote is not blamed on CR line ends.
		{"broken CRLF header", firstRecord(t, "a,b\"c\r\n1,2\r\n"), "unusable header: line 1: quote-error: line 1, column 4, field 2: bare '\"' in unquoted field"},
		{"UTF-16 without a mark", firstRecord(t, "a\x00,\x00b\x00\n\x00"), "unusable header: line 1: the header holds NUL bytes: the source looks like UTF-16 or UTF-32 text, or is not text: convert it to UTF-8 (for example with iconv -f UTF-16LE -t UTF-8) if it is text"},
		{"UTF-16BE without a mark", firstRecord(t, "\x00i\x00d\x00,\x00n\x00\n"), "unusable header: line 1: the header holds NUL bytes: the source looks like UTF-16 or UTF-32 text, or is not text: convert it to UTF-8 (for example with iconv -f UTF-16BE -t UTF-8) if it is text"},
		{"UTF-32LE without a mark", firstRecord(t, "i\x00\x00\x00d\x00\x00\x00\n\x00\x00\x00"), "unusable header: line 1: the header holds NUL bytes: the source looks like UTF-16 or UTF-32 text, or is not text: convert it to UTF-8 (for example with iconv -f UTF-32LE -t UTF-8) if it is text"},
		{"UTF-32BE without a mark", firstRecord(t, "\x00\x00\x00i\x00\x00\x00d\x00\x00\x00\n"), "unusable header: line 1: the header holds NUL bytes: the source looks like UTF-16 or UTF-32 text, or is not text: convert it to UTF-8 (for example with iconv -f UTF-32BE -t UTF-8) if it is text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewValidator(nil, tt.header)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
			var he *HeaderError
			if tt.header != nil && !errors.As(err, &he) {
				t.Errorf("%T is not a *HeaderError", err)
			}
		})
	}
}

// TestHeaderPackedSource checks that a compressed or archived source fails
// at its header with a message naming the format, and that text headers
// merely starting like a magic number do not.
func TestHeaderPackedSource(t *testing.T) {
	const csv = "order_id,status\n1,paid\n"
	var gz, zipped bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(csv))
	zw.Close()
	aw := zip.NewWriter(&zipped)
	f, _ := aw.CreateHeader(&zip.FileHeader{Name: "orders.csv", Method: zip.Store})
	f.Write([]byte(csv))
	aw.Close()
	tests := []struct {
		name, input, want string
	}{
		{"gzip", gz.String(), "the source is gzip-compressed, not CSV text: decompress it first (gunzip)"},
		{"zip", zipped.String(), "the source is a ZIP archive, not CSV text: extract the CSV file from it; an Excel .xlsx workbook is a ZIP archive too: save its sheet as CSV"},
		// The first bytes of files bzip2, xz and zstd wrote.
		{"bzip2", "BZh91AY&SY\xbf\x87", "the source is bzip2-compressed, not CSV text: decompress it first (bunzip2)"},
		{"xz", "\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F", "the source is xz-compressed, not CSV text: decompress it first (unxz)"},
		{"zstd", "\x28\xb5\x2f\xfd\x04XA\x00\x00a,b", "the source is zstd-compressed, not CSV text: decompress it first (unzstd)"},
		{"empty bzip2", "BZh9\x17rE8P\x90\x00\x00\x00\x00", "the source is bzip2-compressed, not CSV text: decompress it first (bunzip2)"},
		{"empty zip", "PK\x05\x06" + strings.Repeat("\x00", 18), "the source is a ZIP archive, not CSV text: it is empty"},
		{"xls", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "the source is an OLE2 file, such as an Excel .xls workbook, not CSV text: save its sheet as CSV"},
		{"text like bzip2", "BZh9 total,PK\n", ""},
		{"text like zip", "PK,PAR1\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewValidator(nil, firstRecord(t, tt.input))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || err.Error() != "unusable header: line 1: "+tt.want):
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestHeaderCopied(t *testing.T) {
	v := testValidator(t, "", "a", "b")
	h := v.Header()
	h[0] = "changed"
	if got := v.Header(); got[0] != "a" {
		t.Errorf("Header() shares its slice: %q", got)
	}
}

func TestAppendJSON(t *testing.T) {
	const typed = `{"fields": [
		{"name": "i", "type": "integer"},
		{"name": "n", "type": "number"},
		{"name": "b", "type": "boolean", "trueValues": ["Y"], "falseValues": ["N"]},
		{"name": "y", "type": "year"},
		{"name": "d", "type": "date"},
		{"name": "s"}],
		"missingValues": ["", "NA"]}`
	header := []string{"i", "n", "b", "y", "d", "s"}
	tests := []struct {
		name   string
		schema string
		header []string
		row    []string
		want   string
	}{
		{"typed", typed, header, []string{"42", "1.5", "Y", "2024", "2024-01-02", "text"},
			`{"i":42,"n":1.5,"b":true,"y":2024,"d":"2024-01-02","s":"text"}`},
		{"normalized numbers", typed, header, []string{"+007", "-.5e3", "N", "0999", "2024-01-02", "x"},
			`{"i":7,"n":-0.5e3,"b":false,"y":999,"d":"2024-01-02","s":"x"}`},
		{"more numbers", typed, header, []string{"-0", "5.", "N", "0000", "2024-01-02", "x"},
			`{"i":-0,"n":5,"b":false,"y":0,"d":"2024-01-02","s":"x"}`},
		{"exponents", typed, header, []string{"-00", "00.50E+07", "N", "2000", "2024-01-02", "x"},
			`{"i":-0,"n":0.50E+07,"b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
		{"special numbers", typed, header, []string{"1", "NaN", "N", "2000", "2024-01-02", "x"},
			`{"i":1,"n":"NaN","b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
		{"infinity", typed, header, []string{"1", "-INF", "N", "2000", "2024-01-02", "x"},
			`{"i":1,"n":"-INF","b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
		{"infinity in lower case", typed, header, []string{"1", "inf", "N", "2000", "2024-01-02", "x"},
			`{"i":1,"n":"inf","b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
		{"nulls", typed, header, []string{"", "NA", "", "NA", "", ""},
			`{"i":null,"n":null,"b":null,"y":null,"d":null,"s":null}`},
		{"escaping", typed, header, []string{"1", "1", "Y", "2024", "2024-01-02", "a \"quoted\"\nline\r\n\ttab\\ \x01 é 日本 \u2028\u2029 </script>"},
			`{"i":1,"n":1,"b":true,"y":2024,"d":"2024-01-02","s":"a \"quoted\"\nline\r\n\ttab\\ \u0001 é 日本 \u2028\u2029 </script>"}`},
		{"untyped", "", header, []string{"42", "1.5", "Y", "", "NA", "x"},
			`{"i":"42","n":"1.5","b":"Y","y":"","d":"NA","s":"x"}`},
		{"escaped labels", "", []string{"a\"b", "c\nd", "é"}, []string{"1", "2", "3"},
			`{"a\"b":"1","c\nd":"2","é":"3"}`},
		{"absent and extra cells", "", []string{"a", "b"}, []string{"1"}, `{"a":"1","b":null}`},
		{"extra cells dropped", "", []string{"a", "b"}, []string{"1", "2", "3"}, `{"a":"1","b":"2"}`},
		{"invalid values stay strings", typed, header, []string{"x", "1,5", "maybe", "99", "2024-01-02", "x"},
			`{"i":"x","n":"1,5","b":"maybe","y":"99","d":"2024-01-02","s":"x"}`},
		{"invalid UTF-8 replaced", "", []string{"a"}, []string{"x\xffy"}, `{"a":"x\ufffdy"}`},
		// Values just outside the quick paths for plain digits.
		{"near integers stay strings", typed, header, []string{"1:2", "1.5:", "N", "2000", "2024-01-02", "x"},
			`{"i":"1:2","n":"1.5:","b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
		{"integers past 64 bits stay strings", typed, header, []string{"9999999999999999999", "1/", "N", "2000", "2024-01-02", "x"},
			`{"i":"9999999999999999999","n":"1/","b":false,"y":2000,"d":"2024-01-02","s":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValidator(t, tt.schema, tt.header...)
			prefix := []byte("prefix ")
			got := v.AppendJSON(prefix, testRecord(1, tt.row...))
			if string(got) != "prefix "+tt.want {
				t.Errorf("got  %s\nwant prefix %s", got, tt.want)
			}
			if !json.Valid(got[len("prefix "):]) {
				t.Errorf("not valid JSON: %s", got)
			}
			if tt.name == "escaping" {
				var m map[string]any
				if err := json.Unmarshal(got[len("prefix "):], &m); err != nil || m["s"] != tt.row[5] {
					t.Errorf("decoded s = %q, %v; want %q", m["s"], err, tt.row[5])
				}
			}
		})
	}
}

// TestCheckDoesNotAllocate checks that a valid row costs no allocation,
// over every type and constraint that does not remember values.
func TestCheckDoesNotAllocate(t *testing.T) {
	const schema = `{"fields": [
		{"name": "i", "type": "integer", "constraints": {"required": true, "minimum": 0, "maximum": 1000000, "enum": [1, 42, 7]}},
		{"name": "n", "type": "number", "constraints": {"minimum": 0, "maximum": 1e9}},
		{"name": "b", "type": "boolean", "constraints": {"enum": [true]}},
		{"name": "d", "type": "date", "constraints": {"minimum": "2000-01-01"}},
		{"name": "dp", "type": "date", "format": "%d/%m/%Y"},
		{"name": "t", "type": "time"},
		{"name": "dt", "type": "datetime", "constraints": {"maximum": "2100-01-01T00:00:00Z"}},
		{"name": "y", "type": "year"},
		{"name": "e", "format": "email"},
		{"name": "u", "format": "uri"},
		{"name": "id", "format": "uuid"},
		{"name": "s", "constraints": {"minLength": 1, "maxLength": 30, "pattern": "[a-z ]+", "enum": ["some text", "other"]}},
		{"name": "a", "type": "any"},
		{"name": "null", "type": "integer"}]}`
	header := []string{"i", "n", "b", "d", "dp", "t", "dt", "y", "e", "u", "id", "s", "a", "null"}
	v := testValidator(t, schema, header...)
	rec := testRecord(1, "42", "123.456789012345678", "true", "2024-02-29", "29/02/2024", "12:00:00", "2024-01-01T10:00:00.123+01:00",
		"2024", "a@b.co", "https://x.y/z", "123e4567-e89b-12d3-a456-426614174000", "some text", "x", "")
	errs := make([]FieldError, 0, 8)
	if got := v.Check(rec, errs); len(got) != 0 {
		t.Fatalf("row is not valid: %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { errs = v.Check(rec, errs[:0]) }); n != 0 {
		t.Errorf("Check allocates %v times per valid row", n)
	}
	out := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { out = v.AppendJSON(out[:0], rec) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per row", n)
	}
}

// TestUniqueAllocations checks that remembering unique values allocates only
// as the sets grow, not once per row.
func TestUniqueAllocations(t *testing.T) {
	const rows = 20000
	v := testValidator(t, `{"fields": [{"name": "id", "type": "integer", "constraints": {"unique": true}}, {"name": "s", "constraints": {"unique": true}}], "primaryKey": ["id", "s"]}`, "id", "s")
	var b strings.Builder
	b.WriteString("id,s\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,key-%d\n", i, i)
	}
	sc, err := NewScanner(strings.NewReader(b.String()), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Scan() // header
	// Count the whole run's allocations, the Scanner's included: one
	// per row would show as 1 per row, and the sets' growth is far less.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	recs := 0
	for sc.Scan() {
		if errs := v.Check(sc.Record(), nil); errs != nil {
			t.Fatalf("row %d: %v", sc.Record().Num, errs)
		}
		recs++
	}
	runtime.ReadMemStats(&after)
	if recs != rows {
		t.Fatalf("checked %d rows, want %d", recs, rows)
	}
	allocs := after.Mallocs - before.Mallocs
	if perRow := float64(allocs) / rows; perRow > 0.05 {
		t.Errorf("%d allocations for %d rows (%.3f per row); want only the sets' occasional growth", allocs, rows, perRow)
	}
}

func TestHashSet(t *testing.T) {
	var s hashSet
	if s.has([2]uint64{1, 2}) {
		t.Fatal("empty set has a member")
	}
	// Hashes sharing their top bits collide; those in the last slot wrap
	// around to the table's start.
	var added [][2]uint64
	for i := uint64(1); i <= 5000; i++ {
		h := [2]uint64{^uint64(0) - i, i}
		if i%2 == 0 {
			h[0] = i
		}
		s.add(h)
		s.add(h) // twice is once
		added = append(added, h)
	}
	if s.len() != len(added) {
		t.Errorf("len() = %d, want %d", s.len(), len(added))
	}
	for _, h := range added {
		if !s.has(h) {
			t.Fatalf("lost %v", h)
		}
		if s.has([2]uint64{h[0], h[1] + 1e9}) {
			t.Fatalf("has %v, never added", [2]uint64{h[0], h[1] + 1e9})
		}
	}
	for i, tb := range s.tables {
		if 4*tb.n > 3*len(tb.slots) || len(tb.slots)&(len(tb.slots)-1) != 0 {
			t.Errorf("table %d: %d members in %d slots", i, tb.n, len(tb.slots))
		}
	}
}

func TestPlainJSON8(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
		for pos := 0; pos < 8; pos++ {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			if got := plainJSON8(binary.LittleEndian.Uint64(w)); got != want {
				t.Errorf("byte %#x at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
}

// TestPlainTail checks the tail check of appendJSONString on texts of 1 to
// 16 bytes with one byte of every value in each place.
func TestPlainTail(t *testing.T) {
	for n := 1; n <= 16; n++ {
		for pos := max(0, n-8); pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("abcdefgh", 2)[:n])
				b[pos] = byte(c)
				want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
				if got := plainTail(b); got != want {
					t.Fatalf("plainTail(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// TestAppendJSONStringAgrees decodes what appendJSONString writes for
// random texts of every length up to 40, of bytes that need escaping,
// multi-byte and invalid UTF-8 among them, and compares it with what
// encoding/json writes for the same text.
func TestAppendJSONStringAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "é", "日", "\u2028", "\u2029", "\xff", "\xc3", "<", "&"}
	for n := range 41 {
		for range 300 {
			var b []byte
			for len(b) < n {
				if rng.IntN(3) == 0 {
					b = append(b, pieces[rng.IntN(len(pieces))]...)
				} else {
					b = append(b, 'x')
				}
			}
			got := appendJSONString(nil, b)
			var gotText, wantText string
			if err := json.Unmarshal(got, &gotText); err != nil {
				t.Fatalf("appendJSONString(%q) = %s: %v", b, got, err)
			}
			want, _ := json.Marshal(string(b))
			if err := json.Unmarshal(want, &wantText); err != nil {
				t.Fatal(err)
			}
			if gotText != wantText {
				t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json's to %q", b, gotText, wantText)
			}
		}
	}
}

// TestJSONNumbersVerbatim checks the shortcuts of AppendJSON: a value
// jsonInteger or jsonNumber lets through as it is must be one that the
// full path accepts and writes unchanged, and one the full path writes
// unchanged, unsigned, without an exponent and of up to 18 digits, must be
// let through.
func TestJSONNumbersVerbatim(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"0", "1", "9", "00", "5", ".", "-", "+", "e", "E", "x", " "}
	for n := range 12 {
		for range 2000 {
			var b []byte
			for range n {
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
			simple := bytes.IndexAny(b, "+-eE") < 0 // signs and exponents are left to the full path
			_, res := parseInteger(b)
			full := res == parseOK && string(appendJSONDigits(nil, b)) == string(b)
			if got := jsonInteger(b); got != (full && simple && len(b) <= 18) {
				t.Fatalf("jsonInteger(%q) = %v; the full path writes it unchanged: %v", b, got, full)
			}
			full = isNumber(b) && !isNumberWord(b) && string(appendJSONNumber(nil, b)) == string(b)
			if got := jsonNumber(b); got != (full && simple) {
				t.Fatalf("jsonNumber(%q) = %v; the full path writes it unchanged: %v", b, got, full)
			}
		}
	}
}

func TestSimpleFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []string{"0", "-0", "+5", "1.5", ".5", "5.", "123456789012345", "0.000000000000001", "999999999999999.", "-1.25", "0.0000000000000000000001", "-000123.4500"}
	for range 100000 {
		digits := strconv.FormatUint(rng.Uint64N(1e15), 10)
		if rng.IntN(2) == 0 {
			digits = strings.Repeat("0", rng.IntN(8)) + digits
		}
		dot := rng.IntN(len(digits) + 1)
		cases = append(cases, digits[:dot]+"."+digits[dot:])
	}
	for _, s := range cases {
		got, ok := simpleFloat([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || got != want {
			t.Fatalf("simpleFloat(%q) = %v, %v; ParseFloat = %v, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"1e3", "1234567890123456", "0.00000000000000000000001", "1.2.3", "", "+", ".", "NaN", "1,5"} {
		if f, ok := simpleFloat([]byte(s)); ok {
			t.Errorf("simpleFloat(%q) = %v, want it to decline", s, f)
		}
	}
}

func TestHasSpaceOrControl(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c <= ' ' || c == 0x7f
		for pos := 0; pos < 11; pos++ {
			b := []byte("abcdefghijk")
			b[pos] = byte(c)
			if got := hasSpaceOrControl(b); got != want {
				t.Errorf("byte %#x at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
}

// FuzzCheck runs one value through every type and format, under missing
// values of several lengths and a required field: Check must agree with the
// plain reference implementation, and AppendJSON must write valid JSON
// whatever Check said.
func FuzzCheck(f *testing.F) {
	const schema = `{"fields": [
		{"name": "i", "type": "integer", "constraints": {"minimum": -5, "unique": true}},
		{"name": "n", "type": "number", "constraints": {"maximum": 1e10, "enum": [1, 2.5, "NaN"]}},
		{"name": "b", "type": "boolean"},
		{"name": "d", "type": "date", "constraints": {"unique": true}},
		{"name": "dp", "type": "date", "format": "%d/%m/%y"},
		{"name": "t", "type": "time", "constraints": {"minimum": "01:00:00"}},
		{"name": "tp", "type": "time", "format": "%H%M%S.%f%z"},
		{"name": "dt", "type": "datetime"},
		{"name": "dtp", "type": "datetime", "format": "%Y%m%d %H:%M:%S%z"},
		{"name": "y", "type": "year"},
		{"name": "e", "format": "email"},
		{"name": "u", "format": "uri"},
		{"name": "id", "format": "uuid"},
		{"name": "s", "constraints": {"minLength": 2, "maxLength": 9, "pattern": "[a-z0-9.:-]*"}},
		{"name": "a", "type": "any"},
		{"name": "ip", "type": "integer", "constraints": {"required": true}},
		{"name": "np", "type": "number", "constraints": {"minimum": 0}},
		{"name": "dd", "type": "date"},
		{"name": "st", "constraints": {"enum": ["pending", "paid", "exactly8", "sixteen-bytes-xx", "seventeen-bytes-x"]}},
		{"name": "bb", "type": "boolean", "trueValues": ["yes", "y"], "falseValues": ["no"]}],
		"missingValues": ["", "NA", "-", "n/a"], "primaryKey": ["i", "s"]}`
	for _, seed := range []string{"", "NA", "n/a", "N", "NAN", "1", "-0", "2024-02-29", "29/02/24", "12:00:00Z", "120000.5+0100", "2024-01-01T00:00:00Z",
		"20240101 10:00:00-0130", "2024", "a@b.co", "urn:x", "123e4567-e89b-12d3-a456-426614174000", "1e400", "NaN", "\xff", "\"\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, val string) {
		s, err := ParseSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(s.Fields))
		vals := make([]string, len(s.Fields))
		for i := range s.Fields {
			names[i] = s.Fields[i].Name
			vals[i] = val
		}
		v, err := NewValidator(s, testRecord(0, names...))
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := NewValidator(s, testRecord(0, names...))
		for range 2 { // the second time, unique values repeat
			rec := testRecord(1, vals...)
			got, want := v.Check(rec, nil), ref.checkReference(rec, nil)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("Check: %v\nreference: %v", got, want)
			}
			if out := v.AppendJSON(nil, rec); !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
		}
	})
}

// TestRejectCodesMatchReadme checks every reject code against the table
// of codes in the README, which users filter the rejects by.
func TestRejectCodesMatchReadme(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "| code | meaning |")
	table, _, _ = strings.Cut(table, "\n\n")
	documented := regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(table, -1)
	codes := []string{CodeTypeError, CodeConstraintError, CodeExtraCell, CodeMissingCell, CodeBlankRow,
		CodeUniqueError, CodePrimaryKeyError, CodeEncodingError, CodeRecordTooLarge, CodeQuoteError}
	want := []string{"type-error", "constraint-error", "extra-cell", "missing-cell", "blank-row",
		"unique-error", "primary-key", "encoding-error", "record-too-large", "quote-error"}
	for i, c := range codes {
		if c != want[i] {
			t.Errorf("code %q, want %q", c, want[i])
		}
		found := false
		for _, d := range documented {
			found = found || d[1] == c
		}
		if !found {
			t.Errorf("code %q is not in the README's table of codes %v", c, documented)
		}
	}
}

// TestHashSetLoad holds each table of a hashSet between 3/8 and 3/4 full
// once it has grown past its first size, which is what the README's 21 to
// 43 bytes per hashed key rest on: a table doubles only when one more
// member would fill more than 3/4 of it.
func TestHashSetLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s hashSet
	for i := 1; i <= 300_000; i++ {
		s.add([2]uint64{rng.Uint64(), rng.Uint64() | 1})
		if i%1000 != 0 {
			continue
		}
		for k, tb := range s.tables {
			size := len(tb.slots)
			if 4*tb.n > 3*size {
				t.Fatalf("after %d keys, table %d holds %d in %d slots: more than 3/4 full", i, k, tb.n, size)
			}
			if size > 64 && 8*tb.n <= 3*size {
				t.Fatalf("after %d keys, table %d holds %d in %d slots: doubled before it was 3/4 full", i, k, tb.n, size)
			}
		}
	}
}

// TestFormattedDatetimeZones checks that a datetime read through a format
// with %z is the instant it names, as an ISO datetime is: an offset is
// taken off the clock time, for bounds and for unique.
func TestFormattedDatetimeZones(t *testing.T) {
	const format = `"format": "%Y-%m-%d %H:%M:%S%z"`
	tests := []struct {
		name  string
		field string
		rows  [][]string
		want  [][]string
	}{
		{"unique across zones", `{"name": "f", "type": "datetime", ` + format + `, "constraints": {"unique": true}}`,
			[][]string{{"2024-01-01 01:00:00+0100"}, {"2024-01-01 00:00:00+0000"}, {"2023-12-31 23:00:00-0100"}, {"2024-01-01 01:00:00+0000"}},
			[][]string{nil, {CodeUniqueError}, {CodeUniqueError}, nil}},
		{"maximum, east of UTC", `{"name": "f", "type": "datetime", ` + format + `, "constraints": {"maximum": "2024-01-01T00:00:00Z"}}`,
			[][]string{{"2024-01-01 01:30:00+0200"}, {"2024-01-01 02:30:00+0200"}},
			[][]string{nil, {CodeConstraintError}}},
		{"minimum, west of UTC", `{"name": "f", "type": "datetime", ` + format + `, "constraints": {"minimum": "2024-01-01T00:00:00Z"}}`,
			[][]string{{"2023-12-31 23:30:00-0100"}, {"2023-12-31 22:30:00-0100"}},
			[][]string{nil, {CodeConstraintError}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValidator(t, `{"fields": [`+tt.field+`]}`, "f")
			checkRows(t, v, tt.rows, tt.want)
		})
	}
}

// TestStringFormatEdges checks URI schemes with every character RFC 3986
// allows in them, and UUIDs of exactly 36 characters.
func TestStringFormatEdges(t *testing.T) {
	tests := []struct {
		format string
		ok     []string
		bad    []string
	}{
		{"uri", []string{"zoommtg://zoom.us/join?confno=1", "Z39.50r://host:210/db", "iris.beep:example", "svn+ssh://host/repo", "a-b:c"},
			[]string{"+http://x", ".x:y", "-x:y", "h_t:x", "ht/tp:x"}},
		{"uuid", []string{"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
			[]string{"123e4567-e89b-12d3-a456-4266141740001", "123e4567-e89b-12d3-a456-426614174000ab", "123e4567-e89b-12d3-a456-426614174000-", "123e4567-e89b-12d3-a456-426614174000 "}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			v := testValidator(t, `{"fields": [{"name": "f", "format": "`+tt.format+`"}, {"name": "g"}]}`, "f", "g")
			checkOKAndBad(t, v, tt.ok, tt.bad)
		})
	}
}
