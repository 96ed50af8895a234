package csvstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Schema describes the columns of a CSV object in the Frictionless Table
// Schema format (https://specs.frictionlessdata.io/table-schema/). It is a
// plain value so that code can build one or change one; ParseSchema reads
// one from JSON, and MarshalJSON writes it back as Table Schema JSON.
//
// The supported subset: field types string (formats default, email, uri,
// uuid), integer, number, boolean, date, time, datetime, year and any;
// constraints required, unique, minimum, maximum, minLength, maxLength,
// pattern and enum; schema-level missingValues and primaryKey. Anything else
// is rejected when the schema is loaded, never ignored at validation time.
type Schema struct {
	// Fields lists the columns in header order.
	Fields []Field `json:"fields"`
	// MissingValues lists the texts that stand for a missing value (null).
	// Nil means the Table Schema default, [""]; an empty, non-nil slice
	// means that no text is missing.
	MissingValues []string `json:"missingValues,omitempty"`
	// PrimaryKey names the fields whose values, taken together, identify a
	// row: each must be present, and no two rows may share them.
	PrimaryKey []string `json:"primaryKey,omitempty"`
}

// Field describes one column.
type Field struct {
	// Name is the column's header label; it must be unique and not empty.
	Name string `json:"name"`
	// Type is one of string, integer, number, boolean, date, time,
	// datetime, year or any; empty means string.
	Type string `json:"type,omitempty"`
	// Format refines Type. Empty means "default". Strings take default,
	// email, uri or uuid; date, time and datetime take default (ISO 8601:
	// YYYY-MM-DD, HH:MM:SS, and YYYY-MM-DDTHH:MM:SS where the T may be a
	// space, the last two with an optional fraction and zone) or a
	// strptime-style pattern made of the directives %Y %y %m %d %H %M %S
	// %f %z and %%.
	Format      string `json:"format,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// TrueValues and FalseValues are the texts a boolean field accepts. Nil
	// means the defaults: true, True, TRUE, 1 and false, False, FALSE, 0.
	TrueValues  []string `json:"trueValues,omitempty"`
	FalseValues []string `json:"falseValues,omitempty"`
	// Constraints restricts the values beyond their type.
	Constraints Constraints `json:"constraints,omitzero"`
}

// Constraints restricts the values of a field. The zero value allows every
// value of the field's type, and a missing value.
type Constraints struct {
	// Required rejects missing values.
	Required bool `json:"required,omitempty"`
	// Unique rejects a value an earlier valid row already holds.
	Unique bool `json:"unique,omitempty"`
	// Minimum and Maximum bound integer, number, year, date, time and
	// datetime values (inclusive). Nil means no bound. A bound is a number
	// (json.Number, int, int64 or float64) for the numeric types, or a
	// string written as the field would hold it; date, time and datetime
	// bounds may also be written in ISO 8601 when the field has a pattern.
	Minimum any `json:"minimum,omitempty"`
	Maximum any `json:"maximum,omitempty"`
	// MinLength and MaxLength bound the length of a string, in characters.
	MinLength *int `json:"minLength,omitempty"`
	MaxLength *int `json:"maxLength,omitempty"`
	// Pattern is a regular expression (Go syntax) every string value must
	// match in full.
	Pattern string `json:"pattern,omitempty"`
	// Enum lists the allowed values, written like Minimum and Maximum (or
	// as booleans for a boolean field); values are compared after parsing,
	// so an integer field with enum [1, 2] accepts "01".
	Enum []any `json:"enum,omitempty"`
}

// ParseSchema reads a Table Schema from JSON. A malformed schema, or one that
// uses something csvstream does not support, is an error that names the
// field and the problem.
func ParseSchema(data []byte) (*Schema, error) {
	s, err := decodeSchema(data)
	if err != nil {
		return nil, err
	}
	if _, err := s.compile(); err != nil {
		return nil, err
	}
	return s, nil
}

// MarshalJSON writes s as Table Schema JSON that ParseSchema reads back.
func (s Schema) MarshalJSON() ([]byte, error) {
	out := struct {
		Fields        []Field   `json:"fields"`
		MissingValues *[]string `json:"missingValues,omitempty"`
		PrimaryKey    []string  `json:"primaryKey,omitempty"`
	}{Fields: s.Fields, PrimaryKey: s.PrimaryKey}
	if out.Fields == nil {
		out.Fields = []Field{}
	}
	if s.MissingValues != nil {
		out.MissingValues = &s.MissingValues
	}
	// Names and patterns keep &, < and > as written, for people who edit
	// the schema; json.Marshal escapes them again for callers that want it.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads s from Table Schema JSON, with the checks of
// ParseSchema.
func (s *Schema) UnmarshalJSON(data []byte) error {
	t, err := ParseSchema(data)
	if err != nil {
		return err
	}
	*s = *t
	return nil
}

// ---- decoding ----

func decodeSchema(data []byte) (*Schema, error) {
	// Editors on Windows often start a UTF-8 file with a byte order mark,
	// which JSON does not allow.
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("schema: the document is empty")
	}
	if !utf8.Valid(data) {
		// encoding/json would turn each bad byte into U+FFFD, changing
		// names, enum values and patterns without a word.
		i := badUTF8(data)
		line, col := lineColumn(data, i)
		return nil, fmt.Errorf("schema: not UTF-8 text: bad byte 0x%02x at line %d, column %d: save the schema as UTF-8", data[i], line, col)
	}
	top, err := jsonObject(data)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", jsonPosition(data, err))
	}
	s := new(Schema)
	for _, k := range sortedKeys(top) {
		raw := top[k]
		switch k {
		case "fields":
			items, err := jsonArray(raw)
			if err != nil {
				return nil, fmt.Errorf("schema: \"fields\": %w", err)
			}
			s.Fields = make([]Field, len(items))
			for i, item := range items {
				if err := decodeField(&s.Fields[i], i, item); err != nil {
					return nil, err
				}
			}
		case "missingValues":
			mv, err := jsonStrings(raw)
			if err != nil {
				return nil, fmt.Errorf("schema: \"missingValues\": %w", err)
			}
			if mv == nil {
				mv = []string{}
			}
			s.MissingValues = mv
		case "primaryKey":
			if jsonKind(raw) == '"' {
				var name string
				if err := json.Unmarshal(raw, &name); err != nil {
					return nil, fmt.Errorf("schema: \"primaryKey\": %w", err)
				}
				s.PrimaryKey = []string{name}
				break
			}
			if jsonKind(raw) != '[' {
				return nil, fmt.Errorf("schema: \"primaryKey\": %s is not a field name or an array of field names", jsonText(raw))
			}
			pk, err := jsonStrings(raw)
			if err != nil {
				return nil, fmt.Errorf("schema: \"primaryKey\": %w", err)
			}
			s.PrimaryKey = pk
		case "fieldsMatch":
			v, err := jsonString(raw)
			if err != nil {
				return nil, fmt.Errorf("schema: \"fieldsMatch\": %w", err)
			}
			if v != "exact" {
				return nil, fmt.Errorf("schema: \"fieldsMatch\": %q is not supported (only \"exact\": the header must list the fields in order)", v)
			}
		case "foreignKeys", "uniqueKeys":
			return nil, fmt.Errorf("schema: %q is not supported", k)
		case "$schema", "name", "title", "description", "profile":
			// Metadata only: accepted and dropped.
		default:
			return nil, fmt.Errorf("schema: unknown property %q", k)
		}
	}
	if _, ok := top["fields"]; !ok {
		return nil, errors.New(`schema: "fields" is missing`)
	}
	return s, nil
}

// decodeField reads the i-th (0-based) element of "fields" into f.
func decodeField(f *Field, i int, data json.RawMessage) error {
	obj, err := jsonObject(data)
	if err != nil {
		return fmt.Errorf("schema: fields[%d]: %w", i, err)
	}
	if raw, ok := obj["name"]; ok {
		name, err := jsonString(raw)
		if err != nil {
			return fmt.Errorf("schema: fields[%d]: \"name\": %w", i, err)
		}
		f.Name = name
	}
	where := fieldWhere(i, f.Name)
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		var err error
		switch k {
		case "name":
		case "type":
			f.Type, err = jsonString(raw)
		case "format":
			f.Format, err = jsonString(raw)
		case "title":
			f.Title, err = jsonString(raw)
		case "description":
			f.Description, err = jsonString(raw)
		case "trueValues":
			f.TrueValues, err = jsonStrings(raw)
			if err == nil && f.TrueValues == nil {
				f.TrueValues = []string{}
			}
		case "falseValues":
			f.FalseValues, err = jsonStrings(raw)
			if err == nil && f.FalseValues == nil {
				f.FalseValues = []string{}
			}
		case "constraints":
			err = decodeConstraints(&f.Constraints, raw)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			continue
		case "bareNumber":
			var b bool
			if b, err = jsonBool(raw); err == nil && !b {
				err = fmt.Errorf("false is not supported (numbers must be bare)%s", numberOptionHint(obj["type"]))
			}
		case "decimalChar":
			var c string
			if c, err = jsonString(raw); err == nil && c != "." {
				err = fmt.Errorf("%q is not supported (only \".\")%s", c, numberOptionHint(obj["type"]))
			}
		case "groupChar":
			var c string
			if c, err = jsonString(raw); err == nil && c != "" {
				err = fmt.Errorf("%q is not supported (numbers may not have group separators)%s", c, numberOptionHint(obj["type"]))
			}
		case "missingValues":
			err = errors.New("field-level missingValues are not supported; set them on the schema")
		case "example", "rdfType":
			// Metadata only: accepted and dropped.
		default:
			return fmt.Errorf("%s: unknown property %q", where, k)
		}
		if err != nil {
			return fmt.Errorf("%s: %q: %w", where, k, err)
		}
	}
	return nil
}

// stringInstead ends the refusal of a number option csvstream does not
// support with the way to check such a column all the same.
const stringInstead = `: to check such numbers, make the field a string with a pattern, such as "-?[0-9]+(,[0-9]+)?" for a decimal comma`

// numberOptionHint ends the refusal of a number option on a field of type
// typ (as written, "" when absent): numbers get stringInstead; any other
// field need only drop the option, which applies to numbers alone.
func numberOptionHint(typ json.RawMessage) string {
	if t, err := jsonString(typ); err == nil && (t == "number" || t == "integer") {
		return stringInstead
	}
	return ": drop it, as it applies to numbers only"
}

func decodeConstraints(c *Constraints, data json.RawMessage) error {
	obj, err := jsonObject(data)
	if err != nil {
		return fmt.Errorf("\"constraints\": %w", err)
	}
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		var err error
		switch k {
		case "required":
			c.Required, err = jsonBool(raw)
		case "unique":
			c.Unique, err = jsonBool(raw)
		case "minimum":
			c.Minimum, err = jsonBound(raw)
		case "maximum":
			c.Maximum, err = jsonBound(raw)
		case "minLength":
			c.MinLength, err = jsonLength(raw)
		case "maxLength":
			c.MaxLength, err = jsonLength(raw)
		case "pattern":
			c.Pattern, err = jsonString(raw)
		case "enum":
			var items []json.RawMessage
			if items, err = jsonArray(raw); err != nil {
				break
			}
			c.Enum = make([]any, len(items))
			for i, item := range items {
				if c.Enum[i], err = jsonScalar(item); err != nil {
					err = fmt.Errorf("item %d: %w", i+1, err)
					break
				}
			}
		default:
			return fmt.Errorf("unknown constraint %q", k)
		}
		if err != nil {
			return fmt.Errorf("constraint %q: %w", k, err)
		}
	}
	return nil
}

// jsonKind returns the first byte of a JSON value: '{', '[', '"', 't', 'f',
// 'n', or a digit or '-' for a number.
func jsonKind(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// jsonText returns raw, a JSON value, for an error message: on one line,
// and cut after 40 bytes, so that an object given where a string belongs
// does not spread the message over many lines.
func jsonText(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(bytes.TrimSpace(raw))
	}
	const max = 40
	if b.Len() <= max {
		return b.String()
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b.Bytes()[cut]) {
		cut--
	}
	return string(b.Bytes()[:cut]) + "..."
}

// jsonPosition rewrites a syntax or type error that encoding/json found in
// doc as "invalid JSON at line L, column C: …", so that the mistake can be
// found in an editor; other errors are returned as they are. The column
// counts characters from 1. For a document that ends too early, the
// position is just after its last character that is not white space.
func jsonPosition(doc []byte, err error) error {
	var (
		off   int64
		cause error
		syn   *json.SyntaxError
		typ   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		off, cause = syn.Offset, syn
	case errors.As(err, &typ):
		off, cause = typ.Offset, typ
	default:
		return err
	}
	// The offset counts the bytes read, the wrong one included; an early
	// end is placed just after the last byte that is not white space.
	i := int(off) - 1
	if end := len(bytes.TrimRight(doc, " \t\r\n")); i >= end || syn != nil && syn.Error() == "unexpected end of JSON input" {
		i = end
	}
	line, col := lineColumn(doc, max(i, 0))
	return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, cause)
}

// lineColumn returns the line and the column, in characters, both from 1,
// of the byte at offset i in doc.
func lineColumn(doc []byte, i int) (line, col int) {
	line = 1 + bytes.Count(doc[:i], []byte("\n"))
	col = 1 + utf8.RuneCount(doc[bytes.LastIndexByte(doc[:i], '\n')+1:i])
	return line, col
}

func jsonObject(raw []byte) (map[string]json.RawMessage, error) {
	if jsonKind(raw) != '{' {
		if _, err := jsonValid(raw); err != nil {
			return nil, err
		}
		return nil, errors.New("want a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if k, ok := repeatedKey(raw); ok {
		// encoding/json keeps the last silently, which would hide a
		// mistake, such as a type set twice.
		return nil, fmt.Errorf("property %q is given twice", k)
	}
	return m, nil
}

// repeatedKey returns a key that the valid JSON object raw holds more than
// once, if any; it looks at raw's own keys, not those of nested objects.
// Keys are compared as encoding/json decodes them, escapes undone. It
// scans raw once, as a schema of many thousands of fields calls it for
// each of them.
func repeatedKey(raw []byte) (string, bool) {
	var (
		keys  []string            // while there are few
		seen  map[string]struct{} // once there are many
		depth int
	)
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			j := i + 1
			for raw[j] != '"' {
				if raw[j] == '\\' {
					j++
				}
				j++
			}
			str := raw[i : j+1]
			i = j
			if depth != 1 {
				continue
			}
			k := j + 1
			for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
				k++
			}
			if k == len(raw) || raw[k] != ':' {
				continue // a value
			}
			key := string(str[1 : len(str)-1])
			if bytes.IndexByte(str, '\\') >= 0 || !utf8.ValidString(key) {
				json.Unmarshal(str, &key)
			}
			switch {
			case seen != nil:
				if _, ok := seen[key]; ok {
					return key, true
				}
				seen[key] = struct{}{}
			case slices.Contains(keys, key):
				return key, true
			case len(keys) < 16:
				keys = append(keys, key)
			default:
				seen = make(map[string]struct{}, 2*len(keys))
				for _, k := range keys {
					seen[k] = struct{}{}
				}
				seen[key] = struct{}{}
			}
		}
	}
	return "", false
}

func jsonValid(raw []byte) (bool, error) {
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		if err == nil {
			err = errors.New("not valid JSON")
		}
		return false, fmt.Errorf("invalid JSON: %w", err)
	}
	return true, nil
}

func jsonArray(raw []byte) ([]json.RawMessage, error) {
	if jsonKind(raw) != '[' {
		return nil, errors.New("want an array")
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	return a, nil
}

func jsonString(raw []byte) (string, error) {
	if jsonKind(raw) != '"' {
		return "", fmt.Errorf("%s is not a string", jsonText(raw))
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func jsonStrings(raw []byte) ([]string, error) {
	items, err := jsonArray(raw)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, item := range items {
		s, err := jsonString(item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func jsonBool(raw []byte) (bool, error) {
	switch jsonKind(raw) {
	case 't', 'f':
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	}
	return false, fmt.Errorf("%s is not true or false", jsonText(raw))
}

func jsonLength(raw []byte) (*int, error) {
	var n json.Number
	if k := jsonKind(raw); k == '-' || (k >= '0' && k <= '9') {
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		t, ok := integralText(n.String())
		if v, err := strconv.Atoi(t); ok && err == nil && v >= 0 {
			return &v, nil
		}
		if k != '-' && (ok || hugeNumber(n.String())) {
			return nil, fmt.Errorf("%s is too large: a length is at most %d", jsonText(raw), math.MaxInt)
		}
	}
	return nil, fmt.Errorf("%s is not a non-negative integer", jsonText(raw))
}

// integralText returns the JSON number n written as an integer, as
// 1.0, 100e-2 and 1e2 are 1, 1 and 100, or false when n has a fraction or
// more than 20 digits before its point.
func integralText(n string) (string, bool) {
	b := []byte(n)
	if !isNumber(b) || isNumberWord(b) {
		return "", false
	}
	d := parseDecimal(b, nil)
	switch {
	case d.sign == 0:
		return "0", true
	case d.bigExp != nil || d.exp < int64(len(d.digits)) || d.exp > 20:
		return "", false
	}
	t := make([]byte, 0, d.exp+1)
	if d.sign < 0 {
		t = append(t, '-')
	}
	t = append(t, d.digits...)
	for range d.exp - int64(len(d.digits)) {
		t = append(t, '0')
	}
	return string(t), true
}

// hugeNumber reports whether n, a JSON number, is at least 1e20 in
// magnitude: an integer beyond any int64, which integralText does not
// write out.
func hugeNumber(n string) bool {
	b := []byte(n)
	if !isNumber(b) || isNumberWord(b) {
		return false
	}
	d := parseDecimal(b, nil)
	return d.sign != 0 && (d.bigExp != nil && !d.bigNeg || d.bigExp == nil && d.exp > 20)
}

// jsonScalar decodes a string, number (as json.Number), boolean or null.
func jsonScalar(raw []byte) (any, error) {
	switch jsonKind(raw) {
	case '{', '[':
		return nil, fmt.Errorf("%s is not a string or number", jsonText(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonBound is jsonScalar for a minimum or maximum, which cannot be null:
// a bound left out is written by leaving out the constraint, and one that
// is null must not vanish without a word.
func jsonBound(raw []byte) (any, error) {
	if jsonKind(raw) == 'n' {
		return nil, errors.New("null is not a bound: give a value, or leave the constraint out")
	}
	return jsonScalar(raw)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldWhere names the i-th field (0-based) in error messages.
func fieldWhere(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("schema: fields[%d]", i)
	}
	return fmt.Sprintf("schema: field %q", name)
}

// ---- compiling ----

// kind is a field type.
type kind uint8

const (
	kindString kind = iota
	kindInteger
	kindNumber
	kindBoolean
	kindDate
	kindTime
	kindDatetime
	kindYear
	kindAny
)

// kindNames lists the type names in kind order.
const kindNames = "string integer number boolean date time datetime year any"

// kindOf returns the kind a type name stands for.
func kindOf(name string) (kind, bool) {
	for k, n := range strings.Fields(kindNames) {
		if n == name {
			return kind(k), true
		}
	}
	return 0, false
}

func (k kind) String() string {
	names := strings.Fields(kindNames)
	if int(k) < len(names) {
		return names[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// numeric reports whether values of kind k are JSON numbers.
func (k kind) numeric() bool { return k == kindInteger || k == kindNumber || k == kindYear }

// ordered reports whether minimum and maximum apply to kind k.
func (k kind) ordered() bool {
	switch k {
	case kindInteger, kindNumber, kindYear, kindDate, kindTime, kindDatetime:
		return true
	}
	return false
}

// stringFormat is the format of a string field.
type stringFormat uint8

const (
	formatDefault stringFormat = iota
	formatEmail
	formatURI
	formatUUID
)

// value is a parsed field value, comparable with == and ordered by compare.
type value struct {
	i  int64   // integer, year, boolean (0 or 1), date (days since 1970-01-01), time (ns after midnight UTC of a reference day; see timeValue), datetime (s since the epoch)
	f  float64 // number
	ns int64   // datetime: nanoseconds within the second
}

// bound is a minimum or maximum.
type bound struct {
	v    value
	text string // as the schema wrote it, for messages
}

// column is a Field compiled for validation.
type column struct {
	name       string
	kind       kind
	strFormat  stringFormat
	layout     *layout // date, time, datetime: nil means ISO 8601
	trueVals   [][]byte
	falseVals  [][]byte
	required   bool
	unique     bool
	min, max   *bound
	minLen     int // -1: none
	maxLen     int // -1: none
	pattern    *regexp.Regexp
	patternSrc string
	enumVals   map[value]struct{}
	enumNums   map[string]struct{} // a number enum, by appendDecimal key
	enumStrs   map[string]struct{}
	enumList   textSet  // a short string enum
	enumText   []string // for messages
	needValue  bool     // the parsed value is needed (constraints, unique, primary key)
	keyed      bool     // the value is part of a unique or primary key
	bools      textSet  // boolean: trueVals, then falseVals
}

// A checkStep is how Validator.Check checks the values of one column. The
// common kinds of column, each with the constraints it usually has, have
// an op of their own; every other column goes through opParse. A checkStep is
// small, so that Check reads little memory per field.
type checkStep struct {
	op          checkOp
	required    bool // a missing value breaks the required constraint
	keyed       bool // the value is part of a unique or primary key
	needValue   bool // opNumber: the value is needed when simpleFloat cannot read it
	constrained bool // opParse: a constraint beyond type and required applies
	// lo and hi are the bounds of opInteger, and flo and fhi those of
	// opNumber: the widest possible where the schema sets none.
	lo, hi   int64
	flo, fhi float64
	col      *column
}

// checkOp says how Validator.Check checks a value.
type checkOp uint8

const (
	opParse       checkOp = iota // column.parse, then column.checkConstraints
	opNone                       // string without a format, or any; no constraints
	opSkip                       // opNone, neither required nor keyed: nothing to check
	opEnum                       // string without a format, or any; a short enum alone
	opEmail                      // string, format email; no constraints
	opInteger                    // integer; minimum and maximum at most
	opNumber                     // number; minimum and maximum at most
	opISODate                    // date in ISO form, its value not needed
	opISODatetime                // datetime in ISO 8601 form, its value not needed
	opBoolean                    // boolean; no constraints
)

// checkStep works out how to check the values of c, once its constraints, and
// whether it is a key, are known.
func (c *column) checkStep() checkStep {
	s := checkStep{required: c.required, keyed: c.keyed, needValue: c.needValue, col: c}
	s.constrained = c.min != nil || c.max != nil || c.minLen >= 0 || c.maxLen >= 0 ||
		c.pattern != nil || c.enumList.items != nil || c.enumStrs != nil || c.enumVals != nil || c.enumNums != nil
	rangeOnly := c.minLen < 0 && c.maxLen < 0 && c.pattern == nil &&
		c.enumStrs == nil && c.enumVals == nil && c.enumNums == nil
	enumOnly := c.enumList.items != nil && c.min == nil && c.max == nil &&
		c.minLen < 0 && c.maxLen < 0 && c.pattern == nil
	plain := c.kind == kindAny || c.kind == kindString && c.strFormat == formatDefault
	switch {
	case plain && !s.constrained && !s.required && !s.keyed:
		s.op = opSkip
	case plain && !s.constrained:
		s.op = opNone
	case plain && enumOnly:
		s.op = opEnum
	case c.kind == kindString && c.strFormat == formatEmail && !s.constrained:
		s.op = opEmail
	case c.kind == kindInteger && rangeOnly:
		s.op = opInteger
		s.lo, s.hi = math.MinInt64, math.MaxInt64
		if c.min != nil {
			s.lo = c.min.v.i
		}
		if c.max != nil {
			s.hi = c.max.v.i
		}
	case c.kind == kindNumber && rangeOnly:
		s.op = opNumber
		s.flo, s.fhi = math.Inf(-1), math.Inf(1)
		if c.min != nil {
			s.flo = c.min.v.f
		}
		if c.max != nil {
			s.fhi = c.max.v.f
		}
	case c.kind == kindDate && c.layout == nil && !c.needValue && !s.constrained:
		s.op = opISODate
	case c.kind == kindDatetime && c.layout == nil && !c.needValue && !s.constrained:
		s.op = opISODatetime
	case c.kind == kindBoolean && !s.constrained:
		s.op = opBoolean
	}
	return s
}

// intKey reports whether the values of c are keyed by value.i alone, so
// that a unique or primary-key set can keep them as integers.
func (c *column) intKey() bool {
	switch c.kind {
	case kindInteger, kindYear, kindDate, kindTime, kindBoolean:
		return true
	}
	return false
}

// compiled is a Schema checked and ready for validation.
type compiled struct {
	cols    []column
	missing [][]byte
	pk      []int // column indexes of the primary key
}

// defaultTrue and defaultFalse return the Table Schema default texts of a
// boolean field.
func defaultTrue() []string  { return []string{"true", "True", "TRUE", "1"} }
func defaultFalse() []string { return []string{"false", "False", "FALSE", "0"} }

// compile checks s and prepares it for validation.
func (s *Schema) compile() (*compiled, error) {
	if s == nil {
		return nil, errors.New("schema: nil schema")
	}
	if len(s.Fields) == 0 {
		return nil, errors.New("schema: no fields")
	}
	c := &compiled{cols: make([]column, len(s.Fields))}
	index := make(map[string]int, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		switch {
		case f.Name == "":
			return nil, fmt.Errorf("%s: name is missing or empty", fieldWhere(i, ""))
		case !utf8.ValidString(f.Name):
			return nil, fmt.Errorf("%s: name is not valid UTF-8, as no header label may be", fieldWhere(i, f.Name))
		case strings.Contains(f.Name, "\r"):
			return nil, fmt.Errorf("%s: name holds a carriage return, as no header label may", fieldWhere(i, f.Name))
		}
		if j, dup := index[f.Name]; dup {
			return nil, fmt.Errorf("%s: name repeats fields[%d]", fieldWhere(i, f.Name), j)
		}
		index[f.Name] = i
		if err := compileField(&c.cols[i], f); err != nil {
			return nil, fmt.Errorf("%s: %w", fieldWhere(i, f.Name), err)
		}
	}
	missing := s.MissingValues
	if missing == nil {
		missing = []string{""}
	}
	for _, m := range missing {
		c.missing = append(c.missing, []byte(m))
	}
	inKey := make([]bool, len(c.cols))
	for _, name := range s.PrimaryKey {
		i, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("schema: primaryKey: no field is named %q", name)
		}
		if inKey[i] {
			return nil, fmt.Errorf("schema: primaryKey: field %q is named twice", name)
		}
		inKey[i] = true
		c.pk = append(c.pk, i)
		c.cols[i].required = true // a primary key implies required
		c.cols[i].needValue = true
		c.cols[i].keyed = true
	}
	return c, nil
}

func compileField(c *column, f *Field) error {
	c.name = f.Name
	typ := f.Type
	if typ == "" {
		typ = "string"
	}
	k, ok := kindOf(typ)
	if !ok {
		return fmt.Errorf("type %q is not supported (want string, integer, number, boolean, date, time, datetime, year or any)", f.Type)
	}
	c.kind = k
	if err := c.compileFormat(f.Format); err != nil {
		return err
	}

	if f.TrueValues != nil || f.FalseValues != nil {
		if k != kindBoolean {
			return fmt.Errorf("trueValues and falseValues apply only to boolean fields, not %s", typ)
		}
	}
	if k == kindBoolean {
		tv, fv := f.TrueValues, f.FalseValues
		if tv == nil {
			tv = defaultTrue()
		}
		if fv == nil {
			fv = defaultFalse()
		}
		if len(tv) == 0 || len(fv) == 0 {
			return errors.New("trueValues and falseValues may not be empty")
		}
		for _, t := range tv {
			switch {
			case !slices.Contains(fv, t):
			case f.FalseValues == nil:
				return fmt.Errorf("%q is in trueValues and in the default falseValues (%s): set falseValues too", t, strings.Join(fv, ", "))
			case f.TrueValues == nil:
				return fmt.Errorf("%q is in falseValues and in the default trueValues (%s): set trueValues too", t, strings.Join(tv, ", "))
			default:
				return fmt.Errorf("%q is in both trueValues and falseValues", t)
			}
			c.trueVals = append(c.trueVals, []byte(t))
		}
		for _, v := range fv {
			c.falseVals = append(c.falseVals, []byte(v))
		}
	}

	cs := &f.Constraints
	c.required = cs.Required
	c.unique = cs.Unique
	c.minLen, c.maxLen = -1, -1
	if cs.MinLength != nil || cs.MaxLength != nil || cs.Pattern != "" {
		if k != kindString {
			name := "pattern"
			if cs.MinLength != nil {
				name = "minLength"
			} else if cs.MaxLength != nil {
				name = "maxLength"
			}
			return fmt.Errorf("constraint %q applies only to string fields, not %s", name, typ)
		}
	}
	if cs.MinLength != nil {
		if *cs.MinLength < 0 {
			return fmt.Errorf("constraint \"minLength\": %d is negative", *cs.MinLength)
		}
		c.minLen = *cs.MinLength
	}
	if cs.MaxLength != nil {
		if *cs.MaxLength < 0 {
			return fmt.Errorf("constraint \"maxLength\": %d is negative", *cs.MaxLength)
		}
		c.maxLen = *cs.MaxLength
	}
	if c.minLen >= 0 && c.maxLen >= 0 && c.minLen > c.maxLen {
		return fmt.Errorf("constraint \"minLength\" %d is above \"maxLength\" %d", c.minLen, c.maxLen)
	}
	if cs.Pattern != "" {
		// The parsed pattern is anchored, not its text, which could
		// balance a stray parenthesis ("a)|(b" in "^(?:a)|(b)$") or quote
		// the anchor (a \Q with no \E).
		parsed, err := syntax.Parse(cs.Pattern, syntax.Perl)
		if err != nil {
			return fmt.Errorf("constraint \"pattern\": %w", err)
		}
		anchored := &syntax.Regexp{Op: syntax.OpConcat, Flags: syntax.Perl, Sub: []*syntax.Regexp{
			{Op: syntax.OpBeginText}, parsed, {Op: syntax.OpEndText}}}
		re, err := regexp.Compile(anchored.String())
		if err != nil {
			return fmt.Errorf("constraint \"pattern\" %q: %w", cs.Pattern, err)
		}
		c.pattern, c.patternSrc = re, cs.Pattern
	}
	if cs.Minimum != nil || cs.Maximum != nil {
		if !k.ordered() {
			name := "minimum"
			if cs.Minimum == nil {
				name = "maximum"
			}
			return fmt.Errorf("constraint %q does not apply to %s fields", name, typ)
		}
	}
	for _, b := range []struct {
		name string
		x    any
		dst  **bound
	}{{"minimum", cs.Minimum, &c.min}, {"maximum", cs.Maximum, &c.max}} {
		if b.x == nil {
			continue
		}
		v, text, err := c.constant(b.x)
		if err != nil {
			return fmt.Errorf("constraint %q: %w", b.name, err)
		}
		if k == kindNumber && math.IsNaN(v.f) {
			return fmt.Errorf("constraint %q: NaN is not ordered: no value could be compared with it", b.name)
		}
		*b.dst = &bound{v: v, text: text}
	}
	if c.min != nil && c.max != nil && (compare(c.kind, c.min.v, c.max.v) > 0 ||
		k == kindNumber && compareDecimal([]byte(c.min.text), []byte(c.max.text)) > 0) {
		return fmt.Errorf("constraint \"minimum\" %s is above \"maximum\" %s", c.min.text, c.max.text)
	}
	if cs.Enum != nil {
		if len(cs.Enum) == 0 {
			return errors.New("constraint \"enum\": the list is empty")
		}
		for i, x := range cs.Enum {
			if k == kindString || k == kindAny {
				s, ok := x.(string)
				if !ok {
					return fmt.Errorf("constraint \"enum\": item %d: %s is not a string", i+1, describe(x))
				}
				if c.enumStrs == nil {
					c.enumStrs = make(map[string]struct{}, len(cs.Enum))
				}
				c.enumStrs[s] = struct{}{}
				c.enumText = append(c.enumText, strconv.Quote(s))
				continue
			}
			v, text, err := c.constant(x)
			if err != nil {
				return fmt.Errorf("constraint \"enum\": item %d: %w", i+1, err)
			}
			if k == kindNumber {
				if c.enumNums == nil {
					c.enumNums = make(map[string]struct{}, len(cs.Enum))
				}
				c.enumNums[string(appendDecimal(nil, []byte(text)))] = struct{}{}
				c.enumText = append(c.enumText, text)
				continue
			}
			if c.enumVals == nil {
				c.enumVals = make(map[value]struct{}, len(cs.Enum))
			}
			c.enumVals[v] = struct{}{}
			c.enumText = append(c.enumText, text)
		}
	}
	if n := len(c.enumStrs); n > 0 && n <= 8 {
		var items [][]byte
		for _, x := range cs.Enum {
			items = append(items, []byte(x.(string)))
		}
		c.enumList = newTextSet(items)
	}
	c.needValue = c.min != nil || c.max != nil || c.enumVals != nil || c.unique
	c.keyed = c.unique
	if k == kindBoolean {
		c.bools = newTextSet(append(append([][]byte(nil), c.trueVals...), c.falseVals...))
	}
	return nil
}

func (c *column) compileFormat(format string) error {
	if format == "" || format == "default" {
		return nil
	}
	switch c.kind {
	case kindString:
		switch format {
		case "email":
			c.strFormat = formatEmail
		case "uri":
			c.strFormat = formatURI
		case "uuid":
			c.strFormat = formatUUID
		default:
			return fmt.Errorf("format %q is not supported for string fields (want default, email, uri or uuid)", format)
		}
		return nil
	case kindDate, kindTime, kindDatetime:
		if format == "any" {
			return fmt.Errorf("format \"any\" is not supported; give a pattern such as \"%%d/%%m/%%Y\"")
		}
		// Table Schema before v1 wrote a pattern as "fmt:PATTERN".
		l, err := compileLayout(strings.TrimPrefix(format, "fmt:"), c.kind)
		if err != nil {
			return fmt.Errorf("format %q: %w", format, err)
		}
		c.layout = l
		return nil
	}
	return fmt.Errorf("format %q is not supported for %s fields (only default)", format, c.kind)
}

// constant parses a bound or enum item x for column c, returning its value
// and its text for messages.
func (c *column) constant(x any) (value, string, error) {
	var text string
	integral := false // JSON's and float64's 1.0 and 1e2 are integers too
	switch x := x.(type) {
	case string:
		text = x
	case json.Number:
		text, integral = x.String(), true
	case int:
		text = strconv.Itoa(x)
	case int64:
		text = strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return value{}, "", fmt.Errorf("%v is not a finite number", x)
		}
		text, integral = strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if c.kind == kindBoolean {
			if x {
				return value{i: 1}, "true", nil
			}
			return value{}, "false", nil
		}
		return value{}, "", fmt.Errorf("%v is not %s", x, c.kind.article())
	case nil:
		return value{}, "", fmt.Errorf("null is not %s", c.kind.article())
	default:
		return value{}, "", fmt.Errorf("%v is a Go %T: give a string, json.Number, int, int64, float64 or bool", x, x)
	}
	if integral && (c.kind == kindInteger || c.kind == kindYear) {
		// JSON has no integers of its own (Python writes a float bound as
		// 1.0), and FormatFloat writes a float64 of 1e6 as "1e+06".
		if t, ok := integralText(text); ok {
			text = t
		} else if c.kind == kindInteger && hugeNumber(text) {
			return value{}, "", fmt.Errorf("%s is out of the 64-bit integer range", describe(x))
		}
	}
	_, isString := x.(string)
	switch c.kind {
	case kindDate, kindTime, kindDatetime:
		if !isString {
			return value{}, "", fmt.Errorf("%s is not %s: write it as a string", text, c.kind.article())
		}
	case kindBoolean:
		if !isString {
			return value{}, "", fmt.Errorf("%s is not a boolean", text)
		}
	}
	v, res := c.parse([]byte(text))
	if res != parseOK && c.layout != nil {
		// Bounds of a patterned date, time or datetime may be ISO 8601.
		iso := *c
		iso.layout = nil
		v, res = iso.parse([]byte(text))
	}
	switch res {
	case parseOK:
	case parseRange:
		return value{}, "", fmt.Errorf("%s is out of the 64-bit integer range", describe(x))
	default:
		return value{}, "", fmt.Errorf("%s is not %s", describe(x), c.kind.article())
	}
	if c.kind.numeric() {
		return v, text, nil
	}
	return v, strconv.Quote(text), nil
}

// article names the kind with its indefinite article, for messages.
func (k kind) article() string {
	switch k {
	case kindInteger:
		return "an integer"
	case kindAny:
		return "a value"
	}
	return "a " + k.String()
}

// describe shows a JSON-ish value in a message.
func describe(x any) string {
	switch x := x.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(x)
}

// ---- date and time patterns ----

// layout is a strptime-style pattern for date, time and datetime fields.
//
// Supported directives: %Y (four-digit year), %y (two-digit year: 69-99 is
// 1969-1999, 00-68 is 2000-2068), %m (month), %d (day), %H (hour, 00-23),
// %M (minute), %S (second), %f (1 to 9 digits of fraction), %z (Z, or an
// offset +HH:MM or +HHMM, or +HH at the end) and %% (a literal percent
// sign). %m, %d, %H, %M and %S take one or two digits (see layout.match).
// Every other byte must match itself. As in strptime, every kind takes
// every directive: a date is the day read (a pattern such as "%Y-%m-%d
// %H:%M:%S" fits the midnight times SQL exports write for dates), a time
// the time of day, with any date read still checked. Date and datetime
// patterns need a year, a month and a day (a datetime without a time is at
// midnight), and time patterns an hour and a minute.
type layout struct {
	src   string
	items []layoutItem
}

// layoutItem is a literal byte (dir == 0) or a directive.
type layoutItem struct {
	dir byte
	lit byte
}

func compileLayout(src string, k kind) (*layout, error) {
	l := &layout{src: src}
	seen := map[byte]bool{}
	for i := 0; i < len(src); i++ {
		if src[i] != '%' {
			l.items = append(l.items, layoutItem{lit: src[i]})
			continue
		}
		i++
		if i == len(src) {
			return nil, errors.New("ends with a lone %")
		}
		d := src[i]
		if d == '%' {
			l.items = append(l.items, layoutItem{lit: '%'})
			continue
		}
		if !strings.ContainsRune("YymdHMSfz", rune(d)) {
			r, _ := utf8.DecodeRuneInString(src[i:]) // named as written, even when not ASCII
			return nil, fmt.Errorf("directive %%%c is not supported (supported: %%Y %%y %%m %%d %%H %%M %%S %%f %%z %%%%)", r)
		}
		y := d
		if y == 'y' {
			y = 'Y'
		}
		if seen[y] {
			return nil, fmt.Errorf("directive %%%c repeats a field", d)
		}
		seen[y] = true
		l.items = append(l.items, layoutItem{dir: d})
	}
	need := "Ymd"
	if k == kindTime {
		need = "HM"
	}
	for _, d := range []byte(need) {
		if !seen[d] {
			name := "%" + string(d)
			if d == 'Y' {
				name = "%Y or %y"
			}
			return nil, fmt.Errorf("a %s format needs %s", k, name)
		}
	}
	return l, nil
}

// civil is a date and time read by a layout.
type civil struct {
	year, month, day  int
	hour, minute, sec int
	nsec              int
	offset            int // seconds east of UTC
}

// parse reads b in full according to l.
func (l *layout) parse(b []byte) (civil, bool) {
	t := civil{year: 1970, month: 1, day: 1}
	if !l.match(b, 0, l.items, &t) || t.day > daysIn(t.year, t.month) {
		return t, false
	}
	return t, true
}

// match reads b[i:] in full with items into t. A directive of one or two
// digits takes two when they make a valid value, and %f takes as many as
// there are, but when the rest of b then does not match, match tries
// fewer, as Python's strptime does: "%d%m%Y" reads 3112024 as 31/1/2024.
// Whether the day exists in its month is parse's check, made once.
func (l *layout) match(b []byte, i int, items []layoutItem, t *civil) bool {
	for k, it := range items {
		if it.dir == 0 {
			if i >= len(b) || b[i] != it.lit {
				return false
			}
			i++
			continue
		}
		var ok bool
		switch it.dir {
		case 'Y':
			t.year, i, ok = fixedDigits(b, i, 4)
		case 'y':
			t.year, i, ok = fixedDigits(b, i, 2)
			if t.year < 69 {
				t.year += 2000
			} else {
				t.year += 1900
			}
		case 'z':
			t.offset, i, ok = zone(b, i, true)
		case 'f':
			// The longest fraction first, then shorter ones: fraction
			// reads to the end of the slice it is given.
			_, end, _ := fraction(b, i)
			for ; end > i; end-- {
				if t.nsec, _, _ = fraction(b[:end], i); l.match(b, end, items[k+1:], t) {
					return true
				}
			}
			return false
		default:
			dst, lo, hi := t.field(it.dir)
			for n := 2; n > 0; n-- {
				v, next, ok := fixedDigits(b, i, n)
				if !ok || v < lo || v > hi {
					continue
				}
				if *dst = v; l.match(b, next, items[k+1:], t) {
					return true
				}
			}
			return false
		}
		if !ok {
			return false
		}
	}
	return i == len(b)
}

// field returns where the directive d, one of %m %d %H %M %S, stores its
// value, and the value's range.
func (t *civil) field(d byte) (dst *int, lo, hi int) {
	switch d {
	case 'm':
		return &t.month, 1, 12
	case 'd':
		return &t.day, 1, 31
	case 'H':
		return &t.hour, 0, 23
	case 'M':
		return &t.minute, 0, 59
	}
	return &t.sec, 0, 59
}

// fixedDigits reads exactly n digits at b[i:].
func fixedDigits(b []byte, i, n int) (v, next int, ok bool) {
	if i+n > len(b) {
		return 0, i, false
	}
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, i, false
		}
		v = v*10 + int(c-'0')
	}
	return v, i + n, true
}

// fraction reads 1 to 9 digits at b[i:] as nanoseconds.
func fraction(b []byte, i int) (ns, next int, ok bool) {
	n := 0
	for i+n < len(b) && n < 9 && b[i+n] >= '0' && b[i+n] <= '9' {
		ns = ns*10 + int(b[i+n]-'0')
		n++
	}
	if n == 0 {
		return 0, i, false
	}
	for k := n; k < 9; k++ {
		ns *= 10
	}
	return ns, i + n, true
}

// zone reads Z (or z) or an offset ±HH:MM at b[i:], returning the offset in
// seconds east of UTC; colonOptional also allows ±HHMM. An offset of whole
// hours may also be ±HH at the end of b, as ISO 8601 allows and PostgreSQL
// writes it.
func zone(b []byte, i int, colonOptional bool) (off, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	switch b[i] {
	case 'Z', 'z':
		return 0, i + 1, true
	case '+', '-':
	default:
		return 0, i, false
	}
	sign := 1
	if b[i] == '-' {
		sign = -1
	}
	h, j, ok := fixedDigits(b, i+1, 2)
	if !ok || h > 23 {
		return 0, i, false
	}
	if j == len(b) {
		return sign * h * 3600, j, true
	}
	if b[j] == ':' {
		j++
	} else if !colonOptional {
		return 0, i, false
	}
	m, j, ok := fixedDigits(b, j, 2)
	if !ok || m > 59 {
		return 0, i, false
	}
	return sign * (h*3600 + m*60), j, true
}

// daysIn returns the number of days in month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}
