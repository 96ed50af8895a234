package csvstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// badSchemas maps each testdata/schemas/bad-*.json file to the error
// ParseSchema must return for it.
var badSchemas = map[string]string{
	"bad-bare-number.json":              `schema: field "price": "bareNumber": false is not supported`,
	"bad-constraints-not-object.json":   `schema: field "qty": "constraints": want a JSON object`,
	"bad-date-directive.json":           `schema: field "when": format "%d %b %Y": directive %b is not supported`,
	"bad-date-format-incomplete.json":   `schema: field "when": format "%m/%Y": a date format needs %d`,
	"bad-date-minimum-number.json":      `schema: field "day": constraint "minimum": 20230101 is not a date: write it as a string`,
	"bad-date-minimum.json":             `schema: field "day": constraint "minimum": "2023-02-29" is not a date`,
	"bad-decimal-char.json":             `schema: field "price": "decimalChar": "," is not supported (only ".")` + stringInstead,
	"bad-duplicate-name.json":           `schema: field "id": name repeats fields[0]`,
	"bad-name-carriage-return.json":     `schema: field "note\r": name holds a carriage return, as no header label may`,
	"bad-empty-fields.json":             `schema: no fields`,
	"bad-enum-empty.json":               `schema: field "status": constraint "enum": the list is empty`,
	"bad-enum-string-number.json":       `schema: field "status": constraint "enum": item 2: 2 is not a string`,
	"bad-enum-type.json":                `schema: field "qty": constraint "enum": item 2: "one" is not an integer`,
	"bad-field-not-object.json":         `schema: fields[0]: want a JSON object`,
	"bad-foreign-keys.json":             `schema: "foreignKeys" is not supported`,
	"bad-format-any.json":               `schema: field "when": format "any" is not supported`,
	"bad-group-char.json":               `schema: field "price": "groupChar": "," is not supported`,
	"bad-integer-range.json":            `schema: field "qty": constraint "maximum": 99999999999999999999 is out of the 64-bit integer range`,
	"bad-integer-range-exponent.json":   `schema: field "qty": constraint "maximum": 1e20 is out of the 64-bit integer range`,
	"bad-invalid-json.json":             `schema: invalid JSON at line 1, column 13: unexpected end of JSON input`,
	"bad-length-on-integer.json":        `schema: field "qty": constraint "minLength" applies only to string fields, not integer`,
	"bad-max-length-negative.json":      `schema: field "code": constraint "maxLength": -1 is not a non-negative integer`,
	"bad-max-length-fraction.json":      `schema: field "code": constraint "maxLength": 2.5 is not a non-negative integer`,
	"bad-min-length-above-max.json":     `schema: field "code": constraint "minLength" 3 is above "maxLength" 2`,
	"bad-min-above-max.json":            `schema: field "qty": constraint "minimum" 10 is above "maximum" 5`,
	"bad-minimum-not-number.json":       `schema: field "price": constraint "minimum": "abc" is not a number`,
	"bad-minimum-null.json":             `schema: field "n": constraint "minimum": null is not a bound: give a value, or leave the constraint out`,
	"bad-minimum-on-string.json":        `schema: field "code": constraint "minimum" does not apply to string fields`,
	"bad-missing-values-item.json":      `schema: "missingValues": item 2: 0 is not a string`,
	"bad-missing-values.json":           `schema: "missingValues": want an array`,
	"bad-no-fields.json":                `schema: "fields" is missing`,
	"bad-no-name.json":                  `schema: fields[0]: name is missing or empty`,
	"bad-not-utf8.json":                 `schema: not UTF-8 text: bad byte 0xfc at line 4, column 49: save the schema as UTF-8`,
	"bad-not-object.json":               `schema: want a JSON object`,
	"bad-null.json":                     `schema: want a JSON object`,
	"bad-pattern-on-number.json":        `schema: field "price": constraint "pattern" applies only to string fields, not number`,
	"bad-number-nan-bound.json":         `schema: field "n": constraint "minimum": NaN is not ordered`,
	"bad-number-bounds-crossed.json":    `schema: field "n": constraint "minimum" 0.30000000000000001 is above "maximum" 0.3`,
	"bad-repeated-property.json":        `schema: fields[0]: property "type" is given twice`,
	"bad-pattern.json":                  `schema: field "code": constraint "pattern": error parsing regexp`,
	"bad-pattern-unbalanced.json":       `schema: field "code": constraint "pattern": error parsing regexp: unexpected ): ` + "`a)|(b`",
	"bad-primary-key-twice.json":        `schema: primaryKey: field "id" is named twice`,
	"bad-primary-key-type.json":         `schema: "primaryKey": 7 is not a field name or an array of field names`,
	"bad-primary-key.json":              `schema: primaryKey: no field is named "nope"`,
	"bad-required-not-bool.json":        `schema: field "id": constraint "required": "yes" is not true or false`,
	"bad-time-bounds-crossed.json":      `schema: field "t": constraint "minimum" "22:00:00" is above "maximum" "02:00:00"`,
	"bad-true-false-overlap.json":       `schema: field "flag": "1" is in both trueValues and falseValues`,
	"bad-true-values-on-string.json":    `schema: field "flag": trueValues and falseValues apply only to boolean fields, not string`,
	"bad-type-not-string.json":          `schema: field "qty": "type": 1 is not a string`,
	"bad-unknown-constraint.json":       `schema: field "qty": unknown constraint "minimun"`,
	"bad-unknown-format.json":           `schema: field "photo": format "binary" is not supported for string fields`,
	"bad-unknown-property.json":         `schema: field "x": unknown property "typ"`,
	"bad-unknown-schema-property.json":  `schema: unknown property "missingValue"`,
	"bad-unknown-type.json":             `schema: field "price": type "money" is not supported`,
	"bad-unique-keys.json":              `schema: "uniqueKeys" is not supported`,
	"bad-primary-key-object.json":       `schema: "primaryKey": {"fields":["id"],"note":"an object where... is not a field name or an array of field names`,
	"bad-fields-match.json":             `schema: "fieldsMatch": "subset" is not supported (only "exact": the header must list the fields in order)`,
	"bad-true-values-empty.json":        `schema: field "flag": trueValues and falseValues may not be empty`,
	"bad-false-values-empty.json":       `schema: field "flag": trueValues and falseValues may not be empty`,
	"bad-field-missing-values.json":     `schema: field "qty": "missingValues": field-level missingValues are not supported; set them on the schema`,
	"bad-max-length-on-date.json":       `schema: field "day": constraint "maxLength" applies only to string fields, not date`,
	"bad-maximum-on-boolean.json":       `schema: field "flag": constraint "maximum" does not apply to boolean fields`,
	"bad-enum-item-object.json":         `schema: field "code": constraint "enum": item 2: {"b":1} is not a string or number`,
	"bad-enum-boolean-number.json":      `schema: field "flag": constraint "enum": item 1: 1 is not a boolean`,
	"bad-unique-null.json":              `schema: field "id": constraint "unique": null is not true or false`,
	"bad-unnamed-field-property.json":   `schema: fields[1]: unknown property "typ"`,
	"bad-year-format.json":              `schema: field "y": format "%Y" is not supported for year fields`,
	"bad-title-object.json":             `schema: field "price": "title": {"en":"Prix unitaire hors taxes : régl... is not a string`,
	"bad-required-object.json":          `schema: field "id": constraint "required": {"value":true} is not true or false`,
	"bad-max-length-array.json":         `schema: field "code": constraint "maxLength": [1,2] is not a non-negative integer`,
	"bad-max-length-huge.json":          `schema: field "code": constraint "maxLength": 1e19 is too large: a length is at most 9223372036854775807`,
	"bad-max-length-1e20.json":          `schema: field "code": constraint "maxLength": 1e20 is too large: a length is at most 9223372036854775807`,
	"bad-min-length-1e400.json":         `schema: field "code": constraint "minLength": 1e400 is too large: a length is at most 9223372036854775807`,
	"bad-max-length-negative-huge.json": `schema: field "code": constraint "maxLength": -1e20 is not a non-negative integer`,
}

// TestNumberOptionHint: a refused number option says how to check such
// numbers on a number field, and to drop the option on any other.
func TestNumberOptionHint(t *testing.T) {
	for _, tt := range []struct{ field, want string }{
		{`"type": "number", "decimalChar": ","`, `"decimalChar": "," is not supported (only ".")` + stringInstead},
		{`"type": "integer", "groupChar": "."`, `"groupChar": "." is not supported (numbers may not have group separators)` + stringInstead},
		{`"type": "string", "decimalChar": ",", "constraints": {"pattern": "-?[0-9]+(,[0-9]+)?"}`, `"decimalChar": "," is not supported (only "."): drop it, as it applies to numbers only`},
		{`"bareNumber": false`, `"bareNumber": false is not supported (numbers must be bare): drop it, as it applies to numbers only`},
	} {
		_, err := ParseSchema([]byte(`{"fields": [{"name": "price", ` + tt.field + `}]}`))
		if want := `schema: field "price": ` + tt.want; err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", tt.field, err, want)
		}
	}
}

func TestParseSchemaErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/schemas/bad-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(badSchemas) {
		t.Errorf("%d bad-*.json files, %d expected errors: keep them in step", len(files), len(badSchemas))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, ok := badSchemas[name]
			if !ok {
				t.Fatalf("no expected error listed for %s", name)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseSchema(data)
			if err == nil {
				t.Fatalf("ParseSchema accepted it: %+v", s)
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n  %v\nwant it to start with\n  %s", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines, want one", err)
			}
			var into Schema
			if err := json.Unmarshal(data, &into); err == nil {
				t.Errorf("json.Unmarshal into a Schema accepted it")
			}
		})
	}
}

// TestParseSchemaJSONPosition checks that a JSON mistake is reported with
// the line and column (in characters, from 1) where it was found.
func TestParseSchemaJSONPosition(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"missing comma", "{\"fields\": [\n  {\"name\": \"id\" \"type\": \"integer\"}\n]}",
			`schema: invalid JSON at line 2, column 17: invalid character '"' after object key:value pair`},
		{"first line", `{"fields": [{"name": "id"},]}`,
			`schema: invalid JSON at line 1, column 28: invalid character ']' looking for beginning of value`},
		{"after a multi-byte character", "{\"fields\": [\n{\"name\": \"prénom\"}}\n]}",
			`schema: invalid JSON at line 2, column 19: invalid character '}' after array element`},
		{"ends early", "{\"fields\": [\n  {\"name\": \"id\"}\n\n",
			`schema: invalid JSON at line 2, column 17: unexpected end of JSON input`},
		{"ends early, with no line end", "{\"fields\": [",
			`schema: invalid JSON at line 1, column 13: unexpected end of JSON input`},
		{"after a byte order mark", "\ufeff{\"fields\" []}",
			`schema: invalid JSON at line 1, column 11: invalid character '[' after object key`},
		{"text after the object", `{"fields": [{"name": "id"}]} x`,
			`schema: invalid JSON at line 1, column 30: invalid character 'x' after top-level value`},
		{"empty", "", `schema: the document is empty`},
		{"white space", " \n\t", `schema: the document is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tt.doc))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseSchemaRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/schemas/valid-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no valid-*.json files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseSchema(data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseSchema(out)
			if err != nil {
				t.Fatalf("ParseSchema(MarshalJSON output) = %v\n%s", err, out)
			}
			if !reflect.DeepEqual(s, again) {
				t.Errorf("round trip changed the schema:\n%+v\n%+v", s, again)
			}
			var into Schema
			if err := json.Unmarshal(data, &into); err != nil || !reflect.DeepEqual(&into, s) {
				t.Errorf("json.Unmarshal = %+v, %v; want %+v", into, err, s)
			}
		})
	}
}

func TestParseSchemaValues(t *testing.T) {
	data, err := os.ReadFile("testdata/schemas/valid-all-types.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.PrimaryKey, []string{"id", "day"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PrimaryKey = %q, want %q", got, want)
	}
	if got, want := s.MissingValues, []string{"", "NA", "-"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MissingValues = %q, want %q", got, want)
	}
	code := s.Fields[1]
	if code.Name != "code" || *code.Constraints.MinLength != 2 || *code.Constraints.MaxLength != 8 || code.Constraints.Pattern != "[A-Z]+[0-9]*" {
		t.Errorf("code field = %+v", code)
	}
	if got := s.Fields[0]; got.Title != "Identifier" || got.Description != "Row id" {
		t.Errorf("id field = %+v", got)
	}
	if got := s.Fields[5]; !reflect.DeepEqual(got.TrueValues, []string{"yes", "Y"}) || !reflect.DeepEqual(got.Constraints.Enum, []any{true}) {
		t.Errorf("ok field = %+v", got)
	}
	if got := s.Fields[9].Constraints; got.Minimum != json.Number("1900") || got.Maximum != "2100" {
		t.Errorf("born constraints = %#v", got)
	}

	pk, err := ParseSchema([]byte(`{"fields": [{"name": "id"}], "primaryKey": "id", "missingValues": []}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pk.PrimaryKey, []string{"id"}) || pk.MissingValues == nil || len(pk.MissingValues) != 0 {
		t.Errorf("got PrimaryKey %q, MissingValues %#v; want [id] and an empty, non-nil slice", pk.PrimaryKey, pk.MissingValues)
	}

	// A file saved with a UTF-8 byte order mark reads as without one.
	bom, err := ParseSchema(append([]byte("\xef\xbb\xbf"), data...))
	if err != nil {
		t.Fatalf("with a byte order mark: %v", err)
	}
	if !reflect.DeepEqual(bom, s) {
		t.Errorf("with a byte order mark: %+v\nwithout: %+v", bom, s)
	}
}

func TestSchemaMarshalJSON(t *testing.T) {
	one, eight := 1, 8
	tests := []struct {
		name string
		s    Schema
		want string
	}{
		{"minimal", Schema{Fields: []Field{{Name: "a"}}}, `{"fields":[{"name":"a"}]}`},
		{"no fields", Schema{}, `{"fields":[]}`},
		{"no missing values", Schema{Fields: []Field{{Name: "a"}}, MissingValues: []string{}}, `{"fields":[{"name":"a"}],"missingValues":[]}`},
		// Written for people to edit: &, < and > stay as they are.
		{"names as written", Schema{Fields: []Field{{Name: "R&D"}, {Name: "<5 years", Constraints: Constraints{Pattern: "a<b>"}}}},
			`{"fields":[{"name":"R&D"},{"name":"<5 years","constraints":{"pattern":"a<b>"}}]}`},
		{
			"everything",
			Schema{
				Fields: []Field{
					{Name: "id", Type: "integer", Constraints: Constraints{Required: true, Unique: true, Minimum: 0, Maximum: int64(99)}},
					{Name: "code", Title: "Code", Constraints: Constraints{MinLength: &one, MaxLength: &eight, Pattern: "[A-Z]+", Enum: []any{"AB", "CD"}}},
					{Name: "ok", Type: "boolean", TrueValues: []string{"y"}, FalseValues: []string{"n"}},
					{Name: "day", Type: "date", Format: "%d/%m/%Y", Constraints: Constraints{Minimum: "2020-01-01"}},
				},
				MissingValues: []string{"NA"},
				PrimaryKey:    []string{"id"},
			},
			`{"fields":[` +
				`{"name":"id","type":"integer","constraints":{"required":true,"unique":true,"minimum":0,"maximum":99}},` +
				`{"name":"code","title":"Code","constraints":{"minLength":1,"maxLength":8,"pattern":"[A-Z]+","enum":["AB","CD"]}},` +
				`{"name":"ok","type":"boolean","trueValues":["y"],"falseValues":["n"]},` +
				`{"name":"day","type":"date","format":"%d/%m/%Y","constraints":{"minimum":"2020-01-01"}}],` +
				`"missingValues":["NA"],"primaryKey":["id"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if len(tt.s.Fields) > 0 {
				if _, err := ParseSchema(got); err != nil {
					t.Errorf("ParseSchema(output) = %v", err)
				}
			}
		})
	}
}

// TestSchemaBuiltInGo checks that schemas built in code get the same checks
// as parsed ones, when NewValidator compiles them.
func TestSchemaBuiltInGo(t *testing.T) {
	neg := -1
	tests := []struct {
		name string
		s    *Schema
		want string
	}{
		{"no name", &Schema{Fields: []Field{{Type: "integer"}}}, "schema: fields[0]: name is missing or empty"},
		{"bad minimum type", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Minimum: []int{1}}}}}, `schema: field "n": constraint "minimum": [1] is a Go []int: give a string, json.Number, int, int64, float64 or bool`},
		{"unsupported Go number", &Schema{Fields: []Field{{Name: "n", Type: "number", Constraints: Constraints{Minimum: float32(1.5)}}}}, `schema: field "n": constraint "minimum": 1.5 is a Go float32: give a string, json.Number, int, int64, float64 or bool`},
		{"integer bound beyond int64 as an exponent", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Maximum: json.Number("1e999")}}}}, `schema: field "n": constraint "maximum": 1e999 is out of the 64-bit integer range`},
		{"integer enum item beyond int64", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Enum: []any{1, 1e25}}}}}, `schema: field "n": constraint "enum": item 2: 1e+25 is out of the 64-bit integer range`},
		{"year bound beyond any year", &Schema{Fields: []Field{{Name: "y", Type: "year", Constraints: Constraints{Minimum: json.Number("1e20")}}}}, `schema: field "y": constraint "minimum": 1e20 is not a year`},
		{"fractional integer bound", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Maximum: 1.5}}}}, `schema: field "n": constraint "maximum": 1.5 is not an integer`},
		{"fractional integer bound as an exponent", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Maximum: json.Number("15e-1")}}}}, `schema: field "n": constraint "maximum": 15e-1 is not an integer`},
		{"negative length", &Schema{Fields: []Field{{Name: "s", Constraints: Constraints{MinLength: &neg}}}}, `schema: field "s": constraint "minLength": -1 is negative`},
		{"empty enum", &Schema{Fields: []Field{{Name: "s", Constraints: Constraints{Enum: []any{}}}}}, `schema: field "s": constraint "enum": the list is empty`},
		{"bool bound", &Schema{Fields: []Field{{Name: "n", Type: "number", Constraints: Constraints{Minimum: true}}}}, `schema: field "n": constraint "minimum": true is not a number`},
		{"empty true values", &Schema{Fields: []Field{{Name: "b", Type: "boolean", TrueValues: []string{}}}}, `schema: field "b": trueValues and falseValues may not be empty`},
		{"lone percent", &Schema{Fields: []Field{{Name: "d", Type: "date", Format: "%Y-%m-%d%"}}}, `schema: field "d": format "%Y-%m-%d%": ends with a lone %`},
		{"repeated directive", &Schema{Fields: []Field{{Name: "d", Type: "date", Format: "%Y %y %m %d"}}}, `schema: field "d": format "%Y %y %m %d": directive %y repeats a field`},
		{"null enum item on a string", &Schema{Fields: []Field{{Name: "s", Constraints: Constraints{Enum: []any{"a", nil}}}}}, `schema: field "s": constraint "enum": item 2: null is not a string`},
		{"null enum item on an integer", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Enum: []any{nil}}}}}, `schema: field "n": constraint "enum": item 1: null is not an integer`},
		{"name not UTF-8", &Schema{Fields: []Field{{Name: "caf\xe9"}}}, `schema: field "caf\xe9": name is not valid UTF-8, as no header label may be`},
		{"negative maximum length", &Schema{Fields: []Field{{Name: "s", Constraints: Constraints{MaxLength: &neg}}}}, `schema: field "s": constraint "maxLength": -1 is negative`},
		{"infinite bound", &Schema{Fields: []Field{{Name: "n", Type: "number", Constraints: Constraints{Maximum: math.Inf(1)}}}}, `schema: field "n": constraint "maximum": +Inf is not a finite number`},
		{"integer bound of 1e19", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Maximum: json.Number("1e19")}}}}, `schema: field "n": constraint "maximum": 1e19 is out of the 64-bit integer range`},
		{"integer bound with a huge negative exponent", &Schema{Fields: []Field{{Name: "n", Type: "integer", Constraints: Constraints{Maximum: json.Number("1e-99999999999999999999")}}}}, `schema: field "n": constraint "maximum": 1e-99999999999999999999 is not an integer`},
		{"time without minutes", &Schema{Fields: []Field{{Name: "t", Type: "time", Format: "%d %H"}}}, `schema: field "t": format "%d %H": a time format needs %M`},
		{"time without minutes", &Schema{Fields: []Field{{Name: "t", Type: "time", Format: "%H"}}}, `schema: field "t": format "%H": a time format needs %M`},
		{"datetime without a day", &Schema{Fields: []Field{{Name: "t", Type: "datetime", Format: "%Y-%m %H:%M"}}}, `schema: field "t": format "%Y-%m %H:%M": a datetime format needs %d`},
		{"datetime without a year", &Schema{Fields: []Field{{Name: "t", Type: "datetime", Format: "%d/%m %H:%M"}}}, `schema: field "t": format "%d/%m %H:%M": a datetime format needs %Y or %y`},
		{"directive not ASCII", &Schema{Fields: []Field{{Name: "d", Type: "date", Format: "%d.%é.%Y"}}}, `schema: field "d": format "%d.%é.%Y": directive %é is not supported (supported: %Y %y %m %d %H %M %S %f %z %%)`},
		{"trueValues against the default falseValues", &Schema{Fields: []Field{{Name: "b", Type: "boolean", TrueValues: []string{"yes", "0"}}}}, `schema: field "b": "0" is in trueValues and in the default falseValues (false, False, FALSE, 0): set falseValues too`},
		{"falseValues against the default trueValues", &Schema{Fields: []Field{{Name: "b", Type: "boolean", FalseValues: []string{"no", "1"}}}}, `schema: field "b": "1" is in falseValues and in the default trueValues (true, True, TRUE, 1): set trueValues too`},
		{"year bound of three digits as a float", &Schema{Fields: []Field{{Name: "y", Type: "year", Constraints: Constraints{Minimum: json.Number("999.0")}}}}, `schema: field "y": constraint "minimum": 999.0 is not a year`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewValidator(tt.s, testRecord(0, "n"))
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewValidator error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestIntegerBoundsAsFloats checks that an integer field takes integral
// float64 bounds and enum items, as a schema decoded into map[string]any
// holds them, however FormatFloat would spell them.
func TestIntegerBoundsAsFloats(t *testing.T) {
	s := &Schema{Fields: []Field{{Name: "n", Type: "integer",
		Constraints: Constraints{Minimum: 1e6, Maximum: 1234567.0, Enum: []any{2e6, 1e6, 1.0e6 + 1}}}}}
	v, err := NewValidator(s, testRecord(0, "n"))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]int{"1000000": 0, "1000001": 0, "999999": 2, "2000000": 1, "1000002": 1} {
		if errs := v.Check(testRecord(1, in), nil); len(errs) != want {
			t.Errorf("%s: errors %v, want %d", in, errs, want)
		}
	}
}

// TestYearBoundsAsFloats checks that a year field, like an integer one,
// takes bounds and enum items that JSON writes as floats (Python writes a
// float bound as 1900.0).
func TestYearBoundsAsFloats(t *testing.T) {
	s, err := ParseSchema([]byte(`{"fields": [{"name": "y", "type": "year", "constraints": {"minimum": 1900.0, "maximum": 2.1e3, "enum": [1900.0, 2024.0, 2.1e3, 2101]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(s, testRecord(0, "y"))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]int{"1900": 0, "2024": 0, "2100": 0, "1899": 2, "2025": 1, "2101": 1} {
		if errs := v.Check(testRecord(1, in), nil); len(errs) != want {
			t.Errorf("%s: errors %v, want %d", in, errs, want)
		}
	}
}

// TestIntegerBoundsAsGoInts checks that bounds and enum items built in Go
// as int and int64 bound an integer field at their values.
func TestIntegerBoundsAsGoInts(t *testing.T) {
	s := &Schema{Fields: []Field{{Name: "n", Type: "integer",
		Constraints: Constraints{Minimum: 5, Maximum: int64(10), Enum: []any{5, int64(7), 10, int64(11), 4}}}}}
	v, err := NewValidator(s, testRecord(0, "n"))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string][]string{
		"4":  {"value 4 is below the minimum 5"},
		"5":  nil,
		"6":  {"value 6 is not one of 5, 7, 10, 11, 4"},
		"7":  nil,
		"10": nil,
		"11": {"value 11 is above the maximum 10"},
	} {
		var got []string
		for _, e := range v.Check(testRecord(1, in), nil) {
			got = append(got, e.Message)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: errors %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSchema(f *testing.F) {
	files, _ := filepath.Glob("testdata/schemas/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"fields":[{"name":"d","type":"datetime","format":"%Y%m%d%H%M%S%f%z"}]}`))
	f.Add([]byte(`{"fields":[{"name":"n","type":"number","constraints":{"enum":[1e308,-0,"NaN"]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if jsonKind(data) == '{' && json.Valid(data) {
			got, ok := repeatedKey(data)
			if ref, refOK := repeatedKeyByDecoder(data); got != ref || ok != refOK {
				t.Fatalf("repeatedKey(%q) = %q, %v; the decoder finds %q, %v", data, got, ok, ref, refOK)
			}
		}
		s, err := ParseSchema(data)
		if err != nil {
			if s != nil {
				t.Fatal("a schema and an error")
			}
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, err := ParseSchema(out)
		if err != nil {
			t.Fatalf("ParseSchema(%s) = %v; it parsed %s", out, err, data)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("written out as %s, the schema read back as\n%#v\nnot\n%#v\nit parsed %s", out, again, s, data)
		}
		names := make([]string, len(s.Fields))
		for i := range s.Fields {
			names[i] = s.Fields[i].Name
		}
		v, err := NewValidator(s, testRecord(0, names...))
		if err != nil {
			t.Fatalf("NewValidator: %v", err)
		}
		v.Check(testRecord(1, names...), nil)
	})
}

// TestLayoutTriesFewerDigits reads values whose directives meet without a
// separator: a directive of one or two digits, or %f, takes fewer when the
// rest does not match otherwise, as Python's strptime does, and a day that
// its month lacks is refused rather than read another way.
func TestLayoutTriesFewerDigits(t *testing.T) {
	tests := []struct {
		kind   kind
		format string
		in     string
		want   civil // zero: the value is refused
	}{
		{kindDate, "%d%m%Y", "31012024", civil{year: 2024, month: 1, day: 31}},
		{kindDate, "%d%m%Y", "3112024", civil{year: 2024, month: 1, day: 31}},
		{kindDate, "%d%m%Y", "1012024", civil{year: 2024, month: 1, day: 10}},
		{kindDate, "%d%m%Y", "111999", civil{year: 1999, month: 1, day: 1}},
		{kindDate, "%d%m%Y", "3022024", civil{}}, // 30/2, which Python refuses too
		{kindDate, "%d%m%Y", "3202024", civil{}},
		{kindDate, "%Y%m%d", "2024131", civil{year: 2024, month: 1, day: 31}},
		{kindTime, "%H%M", "930", civil{year: 1970, month: 1, day: 1, hour: 9, minute: 30}},
		{kindTime, "%H%M", "0930", civil{year: 1970, month: 1, day: 1, hour: 9, minute: 30}},
		{kindTime, "%H%M%S", "12345", civil{year: 1970, month: 1, day: 1, hour: 12, minute: 34, sec: 5}},
		{kindTime, "%H:%M:%S.%f%z", "10:00:00.25+0100", civil{year: 1970, month: 1, day: 1, hour: 10, nsec: 250_000_000, offset: 3600}},
		{kindTime, "%H:%M.%f%S", "10:00.12345", civil{year: 1970, month: 1, day: 1, hour: 10, nsec: 123_400_000, sec: 5}},
		{kindTime, "%H:%M", "10:00:00", civil{}},
	}
	for _, tt := range tests {
		l, err := compileLayout(tt.format, tt.kind)
		if err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		got, ok := l.parse([]byte(tt.in))
		if want := tt.want != (civil{}); ok != want || ok && got != tt.want {
			t.Errorf("%q in %q: %+v, %v; want %+v", tt.in, tt.format, got, ok, tt.want)
		}
	}
}

// repeatedKeyByDecoder is repeatedKey as encoding/json's Decoder finds
// it, token by token: the reference repeatedKey must agree with.
func repeatedKeyByDecoder(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return "", false
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
	}
	return "", false
}

// TestRepeatedKey: a key given twice in an object is found as
// encoding/json reads keys (escapes undone, bad UTF-8 as U+FFFD), and
// only among the object's own keys.
func TestRepeatedKey(t *testing.T) {
	many := func(n int, last string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d": %d, `, i, i)
		}
		return b.String() + last + "}"
	}
	for _, tt := range []struct {
		in, want string
	}{
		{`{}`, ""},
		{`{"a": 1, "b": 2}`, ""},
		{`{"a": 1, "a": 2}`, "a"},
		{`{"a": 1, "\u0061": 2}`, "a"},
		{`{"a\"b": 1, "a\u0022b": 2}`, `a"b`},
		{`{"a\\": 1, "b": "a\\\":", "a\\" : 2}`, `a\`},
		{"{\"\xff\": 1, \"\xfe\": 2}", "\ufffd"},
		{`{"a": {"b": 1, "b": 2}, "c": [{"d": 1}, {"d": 2}]}`, ""},
		{`{"a": "{\"a\": 1}", "b": ["a", "a"], "c": {"a": 1}}`, ""},
		{`{"a": ":", "b" :"a", "c"` + "\n\t:" + `{"a":1}, "c": 2}`, "c"},
		{many(40, `"k39": 0`), "k39"},
		{many(40, `"k3": 0`), "k3"},
		{many(40, `"z": 0`), ""},
		{many(10, `"k9": 0`), "k9"},
	} {
		got, ok := repeatedKey([]byte(tt.in))
		ref, refOK := repeatedKeyByDecoder([]byte(tt.in))
		if got != tt.want || ok != (tt.want != "") || got != ref || ok != refOK {
			t.Errorf("repeatedKey(%.60s) = %q, %v; want %q (the decoder finds %q, %v)", tt.in, got, ok, tt.want, ref, refOK)
		}
	}
}

// BenchmarkParseSchemaWide parses a schema of 90,000 fields, as infer
// drafts for a wide file (about 3 MB written compactly).
func BenchmarkParseSchemaWide(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"fields": [`)
	for i := range 90000 {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, `{"name": "c%05d", "type": "integer", "constraints": {"required": true}}`, i)
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSchema(data); err != nil {
			b.Fatal(err)
		}
	}
}
