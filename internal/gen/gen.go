// Package gen writes deterministic, orders-like CSV test data with a known
// number of valid rows and of invalid rows of each kind, so that tests and
// benchmarks can check that every row is accounted for.
package gen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Schema is the Frictionless Table Schema the rows Orders writes are valid
// against, apart from the rows it makes invalid on purpose.
const Schema = `{
  "fields": [
    {"name": "order_id", "type": "integer", "constraints": {"required": true, "unique": true}},
    {"name": "customer_email", "type": "string", "format": "email"},
    {"name": "order_date", "type": "date"},
    {"name": "shipped_at", "type": "datetime"},
    {"name": "status", "type": "string", "constraints": {"enum": ["pending", "paid", "shipped", "cancelled"]}},
    {"name": "quantity", "type": "integer", "constraints": {"minimum": 1, "maximum": 1000}},
    {"name": "unit_price", "type": "number", "constraints": {"minimum": 0}},
    {"name": "paid", "type": "boolean"},
    {"name": "notes", "type": "string"}
  ]
}`

// Header is the header row Orders writes, without its line terminator and
// with ',' standing for whichever delimiter Options.Comma selects.
const Header = "order_id,customer_email,order_date,shipped_at,status,quantity,unit_price,paid,notes"

// Kinds of invalid row, each named after the one reject error code a
// validator reports for it.
const (
	KindTypeError       = "type-error"       // quantity is "abc"
	KindConstraintError = "constraint-error" // status is "lost", not in the enum
	KindMissingCell     = "missing-cell"     // the last column is dropped
	KindExtraCell       = "extra-cell"       // a tenth column is added
	KindUniqueError     = "unique-error"     // order_id repeats the last accepted row's
	KindBlankRow        = "blank-row"        // every field is empty
)

// InvalidKinds returns the kinds of invalid row in the order Orders cycles
// through them.
func InvalidKinds() []string {
	return []string{KindTypeError, KindConstraintError, KindMissingCell, KindExtraCell, KindUniqueError, KindBlankRow}
}

// Options configures Orders. The zero value writes just the header.
type Options struct {
	// Rows is the number of data rows after the header.
	Rows int
	// InvalidEvery makes every InvalidEvery-th data row invalid, cycling
	// through InvalidKinds; 0 makes every row valid. A unique-error row
	// repeats the order_id of the last valid row, so while no row is valid
	// yet (only possible when InvalidEvery is 1) that kind is passed over.
	InvalidEvery int
	// Seed selects the pseudo-random values; the same Options always give
	// the same bytes.
	Seed int64
	// CRLF ends lines, including those inside quoted notes, with "\r\n"
	// instead of "\n".
	CRLF bool
	// Comma is the field delimiter: ',', ';', '\t' or '|'; 0 means ','.
	Comma byte
}

// Counts says how many data rows Orders wrote, and of which kind.
type Counts struct {
	Rows    int            // data rows, header excluded: Valid + Invalid
	Valid   int            // rows valid against Schema
	Invalid int            // rows with exactly one error
	ByCode  map[string]int // invalid rows per kind (error code)
}

// Orders writes an orders-like CSV: a header and opt.Rows data rows of 9
// columns (see Schema). About 10% of the notes are quoted and hold the
// delimiter, a doubled quote or a line break. Every opt.InvalidEvery-th row
// carries exactly one error, of the kinds InvalidKinds lists in turn, and
// the Counts returned say how many rows of each kind were written.
func Orders(w io.Writer, opt Options) (Counts, error) {
	counts := Counts{ByCode: map[string]int{}}
	comma := opt.Comma
	if comma == 0 {
		comma = ','
	}
	switch {
	case comma != ',' && comma != ';' && comma != '\t' && comma != '|':
		return counts, fmt.Errorf("gen: invalid delimiter %q: use ',', ';', '\\t' or '|'", comma)
	case opt.Rows < 0:
		return counts, fmt.Errorf("gen: invalid Rows %d: it must not be negative", opt.Rows)
	case opt.InvalidEvery < 0:
		return counts, fmt.Errorf("gen: invalid InvalidEvery %d: it must not be negative", opt.InvalidEvery)
	}
	nl := "\n"
	if opt.CRLF {
		nl = "\r\n"
	}
	g := &orders{
		rng:   rand.New(rand.NewPCG(uint64(opt.Seed), 0x9e3779b97f4a7c15)),
		comma: comma,
		nl:    nl,
		epoch: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		voc:   newVocabulary(),
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for i := range len(Header) {
		c := Header[i]
		if c == ',' {
			c = comma
		}
		g.line = append(g.line, c)
	}
	g.line = append(g.line, nl...)
	if _, err := bw.Write(g.line); err != nil {
		return counts, fmt.Errorf("gen: writing the header: %w", err)
	}

	kinds := InvalidKinds()
	next := 0   // index in kinds of the next invalid row's kind
	lastID := 0 // order_id of the last valid row, 0 if none yet
	for id := 1; id <= opt.Rows; id++ {
		kind := ""
		if opt.InvalidEvery > 0 && id%opt.InvalidEvery == 0 {
			kind = kinds[next%len(kinds)]
			next++
			if kind == KindUniqueError && lastID == 0 {
				kind = kinds[next%len(kinds)]
				next++
			}
		}
		g.row(id, kind, lastID)
		if _, err := bw.Write(g.line); err != nil {
			return counts, fmt.Errorf("gen: writing data row %d: %w", id, err)
		}
		counts.Rows++
		if kind == "" {
			counts.Valid++
			lastID = id
		} else {
			counts.Invalid++
			counts.ByCode[kind]++
		}
	}
	if err := bw.Flush(); err != nil {
		return counts, fmt.Errorf("gen: writing data: %w", err)
	}
	return counts, nil
}

// orders holds the state of one Orders call.
type orders struct {
	rng   *rand.Rand
	comma byte
	nl    string
	epoch time.Time // the earliest order_date
	voc   vocabulary
	line  []byte // the row being built
}

// vocabulary holds the values rows are drawn from.
type vocabulary struct {
	firstNames, lastNames, domains, statuses, words []string
}

// newVocabulary returns the values rows are drawn from.
func newVocabulary() vocabulary {
	return vocabulary{
		firstNames: []string{"ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kemal", "lea", "mo", "nina", "omar", "pia"},
		lastNames:  []string{"smith", "garcia", "kim", "novak", "okafor", "rossi", "silva", "tanaka", "weber", "young"},
		domains:    []string{"example.com", "example.org", "mail.example.net", "shop.example"},
		statuses:   []string{"pending", "paid", "shipped", "cancelled"},
		words:      []string{"leave", "at", "door", "gift", "wrap", "fragile", "call", "before", "delivery", "back", "entrance", "no", "invoice", "express", "weekend", "ok"},
	}
}

// row builds data row id in g.line. kind is "" for a valid row or the kind
// of error to put in it; lastID is the order_id of the last valid row.
func (g *orders) row(id int, kind string, lastID int) {
	b := g.line[:0]
	r := g.rng
	if kind == KindBlankRow {
		for range 8 {
			b = append(b, g.comma)
		}
		g.line = append(b, g.nl...)
		return
	}

	if kind == KindUniqueError {
		id = lastID
	}
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, g.comma)

	b = append(b, g.voc.firstNames[r.IntN(len(g.voc.firstNames))]...)
	b = append(b, '.')
	b = append(b, g.voc.lastNames[r.IntN(len(g.voc.lastNames))]...)
	b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
	b = append(b, '@')
	b = append(b, g.voc.domains[r.IntN(len(g.voc.domains))]...)
	b = append(b, g.comma)

	day := g.epoch.AddDate(0, 0, r.IntN(6*365))
	b = day.AppendFormat(b, time.DateOnly)
	b = append(b, g.comma)
	shipped := day.Add(time.Duration(r.IntN(5*24*3600)) * time.Second)
	b = shipped.AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, g.comma)

	if kind == KindConstraintError {
		b = append(b, "lost"...)
	} else {
		b = append(b, g.voc.statuses[r.IntN(len(g.voc.statuses))]...)
	}
	b = append(b, g.comma)

	if kind == KindTypeError {
		b = append(b, "abc"...)
	} else {
		q := 1 + r.IntN(1000)
		if r.IntN(4) != 0 {
			q = 1 + r.IntN(9) // most orders are small
		}
		b = strconv.AppendInt(b, int64(q), 10)
	}
	b = append(b, g.comma)

	cents := r.IntN(100000)
	b = strconv.AppendInt(b, int64(cents/100), 10)
	b = append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10))
	b = append(b, g.comma)

	b = strconv.AppendBool(b, r.IntN(2) == 0)

	if kind != KindMissingCell {
		b = append(b, g.comma)
		b = g.notes(b)
	}
	if kind == KindExtraCell {
		b = append(b, g.comma)
		b = append(b, "extra"...)
	}
	g.line = append(b, g.nl...)
}

// notes appends a notes value: empty, a few plain words, or (about one in
// ten) a quoted text holding the delimiter, a doubled quote or a line break.
func (g *orders) notes(b []byte) []byte {
	r := g.rng
	switch n := r.IntN(20); {
	case n < 4:
		return b
	case n < 18:
		return g.words(b, 1+r.IntN(4))
	}
	b = append(b, '"')
	b = g.words(b, 1+r.IntN(2))
	switch r.IntN(3) {
	case 0:
		b = append(b, g.comma, ' ')
	case 1:
		b = append(b, ` ""`...)
		b = g.words(b, 1)
		b = append(b, `"" `...)
	default:
		b = append(b, g.nl...)
	}
	b = g.words(b, 1+r.IntN(2))
	return append(b, '"')
}

// words appends n words separated by spaces.
func (g *orders) words(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, g.voc.words[g.rng.IntN(len(g.voc.words))]...)
	}
	return b
}
