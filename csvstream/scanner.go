package csvstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxRecordSize is the bound on one record's bytes used when
// ScanOptions.MaxRecordSize is zero.
const DefaultMaxRecordSize = 1 << 20

// MaxRecordSizeLimit is the largest ScanOptions.MaxRecordSize allowed. A
// Scanner holds a whole record in memory, so the bound must stay well
// below what a process can buffer.
const MaxRecordSizeLimit = 1 << 30

const (
	// readBufSize is the initial size of a Scanner's read buffer. The buffer
	// grows only when one record needs more, up to MaxRecordSize+2 bytes.
	// It is large so that reads from the network are few and large.
	readBufSize = 256 << 10
	// maxEmptyReads is how many reads in a row may return no bytes and no
	// error before the Scanner gives up with io.ErrNoProgress.
	maxEmptyReads = 100

	// fastLineMax bounds the lines scanLine splits itself; longer ones take
	// the general path.
	fastLineMax = 8 << 10
)

// utf8BOM is the UTF-8 encoding of the byte order mark U+FEFF.
const utf8BOM = "\xEF\xBB\xBF"

// ScanOptions configures a Scanner. The zero value works: comma-separated
// records of at most DefaultMaxRecordSize bytes.
type ScanOptions struct {
	// Comma is the field delimiter; 0 means ','. It must not be '"', '\r',
	// '\n' or a byte >= 0x80.
	Comma byte
	// MaxRecordSize bounds the bytes of one record, line terminator
	// included; 0 means DefaultMaxRecordSize, and it may not exceed
	// MaxRecordSizeLimit. Of a longer record only its first physical line
	// is returned, with Err set (CodeRecordTooLarge), and scanning resumes
	// on the next line; a single line longer than the bound is returned in
	// pieces of at most MaxRecordSize bytes, each with Err set, the last
	// with the line's end even when that is past the bound. So memory
	// stays bounded whatever the input holds, and no byte is dropped.
	MaxRecordSize int
}

// ParseDelimiter reads a delimiter as users write it: one ASCII character
// other than NUL, a quote or a line break, with "tab" and `\t` for a tab.
// (NUL would be taken for ScanOptions.Comma's zero value, a comma.)
func ParseDelimiter(s string) (byte, error) {
	switch s {
	case `\t`, "tab", "\t":
		return '\t', nil
	}
	if len(s) != 1 || s[0] == 0 || s[0] == '"' || s[0] == '\r' || s[0] == '\n' || s[0] >= 0x80 {
		return 0, fmt.Errorf("delimiter %q: want one ASCII character other than NUL, a quote or a line break, or tab", s)
	}
	return s[0], nil
}

// Scanner splits a stream of RFC 4180 CSV into Records without losing a
// byte: concatenating every Record.Raw in order reproduces the input
// exactly, whether or not it is well formed. Records end at LF or CRLF
// outside quotes; a lone CR is data. Unlike encoding/csv it keeps empty
// lines (as records with one empty field), keeps CRLF inside quoted fields,
// leaves a UTF-8 byte order mark at the start of the input out of the first
// field (but in Raw), and recovers from a malformed record by resuming at
// the next physical line, so one bad row cannot swallow the rows behind it.
//
// A '"' inside an unquoted field, or anything but the delimiter or a line
// end after a closing quote, sets the record's Err (CodeQuoteError); the
// field is then kept literally up to the next delimiter, and the record
// still ends at its line end. A quote left open at the end of the input
// sets Err too, and the record is cut back to its first physical line.
// Where the input is so damaged that several records are cut back within
// the lines the first of them ran over (see maxCutBack), the records
// starting on the lines their scans ran over
// are kept to one line, so that no byte is scanned once per line; a
// well-formed multi-line record starting there is split too.
//
// Raw and the field values alias the Scanner's buffer, so nothing is copied
// or allocated per record except the values of quoted fields holding
// doubled quotes, which are unescaped into a buffer the Record reuses.
type Scanner struct {
	r     io.Reader
	comma byte
	max   int

	buf      []byte // buf[pos:end] has been read but not yet returned
	pos, end int
	oneLine  bool  // the record is one line with its terminator
	eof      bool  // r has returned io.EOF
	err      error // first read error other than io.EOF, wrapped
	read     int64 // bytes read from r
	line     int64 // physical line on which the next record starts
	num      int64 // Num of the next record
	longLine bool  // the next record continues a line cut at max bytes
	done     bool  // Scan has returned false
	rec      Record

	// Cutting a record back to its first line means scanning its next
	// lines again as records of their own. Where input is so damaged that
	// each of them runs on too, that would scan the same bytes once per
	// line. So once cutBack records have been cut back within the lines
	// the first of them ran over (up to line reach), records starting
	// before line oneLineTo may not span lines.
	reach     int64 // line the farthest scan of a cut-back record reached
	cutBack   int   // records cut back since one started at or after reach
	oneLineTo int64 // records starting before this line are kept to one line

	// release, when set, is called before the Scanner overwrites the
	// bytes of records it has returned. Until then those bytes stay
	// valid, so a caller in this package may gather the raw bytes of
	// consecutive records (Record.raw: Raw is capped at each record) and
	// write them in one call. An error it returns ends the scan before
	// the Scanner reads again: a write that failed must not wait on an
	// input that may stall.
	release func() error
}

// NewScanner returns a Scanner reading from r. It fails only when the
// options are invalid.
func NewScanner(r io.Reader, opt ScanOptions) (*Scanner, error) {
	if r == nil {
		return nil, errors.New("csvstream: NewScanner: nil reader")
	}
	if err := opt.Check(); err != nil {
		return nil, fmt.Errorf("csvstream: NewScanner: %w", err)
	}
	comma := opt.Comma
	if comma == 0 {
		comma = ','
	}
	max := opt.MaxRecordSize
	if max == 0 {
		max = DefaultMaxRecordSize
	}
	return &Scanner{r: r, comma: comma, max: max, line: 1}, nil
}

// Check reports an option out of range, as NewScanner and Run would.
func (o ScanOptions) Check() error {
	if c := o.Comma; c == '"' || c == '\r' || c == '\n' || c >= 0x80 {
		return fmt.Errorf("invalid delimiter %q: it must be an ASCII byte other than '\"', '\\r' and '\\n'", c)
	}
	if o.MaxRecordSize < 0 || o.MaxRecordSize > MaxRecordSizeLimit {
		return fmt.Errorf("invalid MaxRecordSize %d: it must be between 0 and %d", o.MaxRecordSize, MaxRecordSizeLimit)
	}
	return nil
}

// Scan advances to the next record, which Record then returns. It returns
// false at the end of the input or when reading fails; Err tells which. A
// malformed record is not a failure: it is returned with Record().Err set.
func (s *Scanner) Scan() bool {
	if s.done {
		return false
	}
	r := &s.rec
	r.fields = r.fields[:0]
	r.esc = r.esc[:0]
	r.Err = nil
	r.ascii = false
	s.oneLine = false
	var ok bool
	switch {
	case s.longLine:
		ok = s.scanRest()
	case s.num == 0:
		ok = s.scanFirst()
	default:
		ok = s.scanLine()
	}
	if !ok {
		s.done = true
		r.Raw, r.raw = nil, nil
		r.fields = r.fields[:0]
		return false
	}
	r.Raw = r.raw[:len(r.raw):len(r.raw)] // appending to it cannot overwrite the next records
	r.Line = s.line
	r.Num = s.num
	s.num++
	s.pos += len(r.raw)
	if s.oneLine {
		s.line++
	} else {
		s.line += int64(bytes.Count(r.raw, []byte{'\n'}))
	}
	return true
}

// Record returns the current record. It and everything it refers to are
// reused by the next call to Scan.
func (s *Scanner) Record() *Record { return &s.rec }

// Err returns the first error met reading the input, or nil if Scan stopped
// at the end of the input.
func (s *Scanner) Err() error { return s.err }

// BytesRead returns how many bytes the Scanner has read from its reader so
// far. Some of them may be buffered, not yet returned in a Record; once Scan
// has returned false at the end of the input it is the input's size.
func (s *Scanner) BytesRead() int64 { return s.read }

// scanLine scans a record that is not the first. It handles the common
// record itself: one line, terminator within the buffer, the size bound and
// fastLineMax, and no quotes. For a line with quotes it splits the fields
// before the first quote and leaves the rest to scanSlow; anything else is
// all scanSlow's.
func (s *Scanner) scanLine() bool {
	data := s.buf[s.pos:s.end]
	if len(data) > s.max {
		data = data[:s.max]
	}
	if len(data) > fastLineMax {
		data = data[:fastLineMax]
	}
	r := &s.rec
	if cap(r.fields) <= fastLineMax {
		r.fields = make([]span, 0, fastLineMax+1)
	}
	fields := r.fields[:cap(r.fields)]
	nf, stop, ascii := splitLine(data, s.comma, fields)
	if stop == len(data) {
		return s.scanSlow(0)
	}
	start := 0
	if nf > 0 {
		start = int(fields[nf-1].end) + 1
	}
	if data[stop] == '"' {
		r.fields = fields[:nf]
		return s.scanSlow(start)
	}
	end := stop
	if end > start && data[end-1] == '\r' {
		end--
	}
	fields[nf] = span{int32(start), int32(end)}
	r.fields = fields[:nf+1]
	r.raw = data[:stop+1]
	r.ascii = ascii
	s.oneLine = true
	return true
}

// scanFirst scans the first record, leaving a UTF-8 byte order mark at the
// start of the input in Raw but out of the first field. An input of a byte
// order mark alone, as some tools write for an empty export, holds no
// record, as an empty input does.
func (s *Scanner) scanFirst() bool {
	for s.end-s.pos <= len(utf8BOM) && !s.eof && s.err == nil {
		s.fill()
	}
	if data := s.buf[s.pos:s.end]; len(data) >= len(utf8BOM) && string(data[:len(utf8BOM)]) == utf8BOM {
		if len(data) == len(utf8BOM) && s.eof && s.err == nil {
			s.pos = s.end
			return false
		}
		return s.scanSlow(len(utf8BOM))
	}
	return s.scanSlow(0)
}

// States of scanSlow.
const (
	stField   = iota // at the start of a field
	stBare           // inside an unquoted field
	stQuoted         // inside a quoted field
	stQuote          // after a '"' inside a quoted field
	stQuoteCR        // after a closing '"' and a '\r'
	stLiteral        // inside a field kept literally after a quote error
)

// scanSlow scans any record from o bytes into it, where a field starts
// (the fields before are in s.rec already), reading more input as needed.
// It reports false when there is no record left or reading failed.
func (s *Scanner) scanSlow(o int) bool {
	r := &s.rec
	comma := s.comma
	st := stField
	fs := o       // start of the current field
	esc := false  // the current quoted field holds doubled quotes
	firstNL := -1 // offset of the record's first '\n', if any
	nlField := -1 // index of the field that holds it
	oneLine := s.line < s.oneLineTo
	lineEnd := -1  // with oneLine: the offset of the line's '\n', once found
	searched := -1 // with oneLine: where the search for it resumes
	for {
		data := s.buf[s.pos:s.end]
		lim := min(len(data), s.max)
		for o < lim {
			switch st {
			case stField:
				fs = o
				esc = false
				if data[o] == '"' {
					st = stQuoted
					o++
				} else {
					st = stBare
				}
			case stBare, stLiteral:
				for o < lim {
					c := data[o]
					if c == comma || c == '\n' || c == '"' {
						break
					}
					o++
				}
				if o == lim {
					continue
				}
				switch data[o] {
				case comma:
					s.addField(fs, o)
					st = stField
					o++
				case '\n':
					end := o
					if end > fs && data[end-1] == '\r' {
						end--
					}
					s.addField(fs, end)
					r.raw = data[:o+1]
					return true
				default: // '"'
					s.fail(data, o, `bare '"' in unquoted field`)
					o++
				}
			case stQuoted:
				seg := data[o:lim]
				if oneLine {
					// Look for the quote within the line only, and for the
					// line's end once per record, so that each line costs
					// its own length however many quoted fields it holds.
					if lineEnd < 0 {
						from := max(o, searched)
						if k := bytes.IndexByte(data[from:lim], '\n'); k >= 0 {
							lineEnd = from + k
						} else {
							searched = lim
						}
					}
					if lineEnd >= 0 {
						seg = data[o : lineEnd+1]
					}
				}
				j := bytes.IndexByte(seg, '"')
				if j >= 0 {
					seg = seg[:j]
				}
				if firstNL < 0 {
					if k := bytes.IndexByte(seg, '\n'); k >= 0 {
						firstNL, nlField = o+k, len(r.fields)
						if oneLine {
							return s.cutToLine(data, fs, firstNL)
						}
					}
				}
				if j < 0 {
					o = lim
					continue
				}
				o += j + 1
				st = stQuote
			case stQuote:
				switch c := data[o]; c {
				case '"':
					esc = true
					st = stQuoted
					o++
				case comma:
					s.addQuoted(data, fs, o-1, esc)
					st = stField
					o++
				case '\n':
					s.addQuoted(data, fs, o-1, esc)
					r.raw = data[:o+1]
					return true
				case '\r':
					st = stQuoteCR
					o++
				default:
					if nlField == len(r.fields) {
						return s.quoteBroken(data, firstNL, o, `unexpected byte after closing '"'`)
					}
					s.fail(data, o, `unexpected byte after closing '"'; the field is read on as unquoted text`)
					st = stLiteral
				}
			case stQuoteCR:
				if data[o] == '\n' {
					s.addQuoted(data, fs, o-2, esc)
					r.raw = data[:o+1]
					return true
				}
				if nlField == len(r.fields) {
					return s.quoteBroken(data, firstNL, o-1, `unexpected '\r' after closing '"'`)
				}
				s.fail(data, o-1, `unexpected '\r' after closing '"'; the field is read on as unquoted text`)
				st = stLiteral
			}
		}
		if o < len(data) || o > s.max {
			// The record goes on past the size bound.
			return s.recover(CodeRecordTooLarge, data, firstNL, o, st == stQuoted,
				fmt.Sprintf("record starting on line %d is longer than %d bytes", s.line, s.max))
		}
		if s.err != nil {
			return false
		}
		if !s.eof {
			s.fill()
			continue
		}
		// End of input.
		if o == 0 {
			return false
		}
		switch st {
		case stField, stBare, stLiteral:
			if st == stField {
				fs = o
			}
			s.addField(fs, o)
		case stQuoted:
			line, col := s.position(data, fs)
			field := len(r.fields) + 1
			ok := s.recover(CodeQuoteError, data, firstNL, o, true,
				fmt.Sprintf("line %d, column %d, field %d: quoted field is not closed before the end of the input", line, col, field))
			r.Err.Field = field
			return ok
		case stQuote:
			s.addQuoted(data, fs, o-1, esc)
		case stQuoteCR:
			if nlField == len(r.fields) {
				// As before a byte that is not '\n', above.
				return s.quoteBroken(data, firstNL, o-1, `unexpected '\r' after closing '"'`)
			}
			s.fail(data, o-1, `unexpected '\r' after closing '"'; the field is read on as unquoted text`)
			s.addField(fs, o)
		}
		r.raw = data[:o]
		return true
	}
}

// scanRest returns the next piece of a physical line that was cut because
// it is longer than the size bound: up to its '\n' or the bound, whichever
// comes first.
func (s *Scanner) scanRest() bool {
	o := 0
	for {
		data := s.buf[s.pos:s.end]
		lim := min(len(data), s.max)
		n := -1
		if i := bytes.IndexByte(data[o:lim], '\n'); i >= 0 {
			n = o + i + 1
			s.longLine = false
		} else if o = lim; o < len(data) {
			n = s.max
			if k := s.lineEndAt(n); k > 0 {
				n += k // as in recover
				s.longLine = false
			}
			data = s.buf[s.pos:s.end]
		} else if s.err != nil {
			return false
		} else if !s.eof {
			s.fill()
			continue
		} else if o > 0 {
			n = o
			s.longLine = false
		} else {
			return false
		}
		s.rec.raw = data[:n]
		s.rec.Err = &ScanError{Code: CodeRecordTooLarge,
			Message: fmt.Sprintf("line %d is longer than %d bytes; this record holds the next piece of it", s.line, s.max)}
		return true
	}
}

// addField appends the field data[start:end] of the current record.
func (s *Scanner) addField(start, end int) {
	s.rec.fields = append(s.rec.fields, span{int32(start), int32(end)})
}

// addQuoted appends the quoted field that opens at data[open] and closes at
// data[close], undoing doubled quotes when esc says there are some.
func (s *Scanner) addQuoted(data []byte, open, close int, esc bool) {
	r := &s.rec
	if !esc {
		r.fields = append(r.fields, span{int32(open + 1), int32(close)})
		return
	}
	start := len(r.esc)
	v := data[open+1 : close]
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 || i+1 >= len(v) {
			break
		}
		r.esc = append(r.esc, v[:i+1]...)
		v = v[i+2:]
	}
	r.esc = append(r.esc, v...)
	r.fields = append(r.fields, span{int32(^start), int32(len(r.esc))})
}

// fail records a quote error at data[o] unless the record already has an
// error.
func (s *Scanner) fail(data []byte, o int, what string) {
	if s.rec.Err != nil {
		return
	}
	line, col := s.position(data, o)
	field := len(s.rec.fields) + 1
	s.rec.Err = &ScanError{Code: CodeQuoteError, Field: field, line: line,
		Message: fmt.Sprintf("line %d, column %d, field %d: %s", line, col, field, what)}
}

// position returns the physical line and the 1-based byte column of
// data[o], an offset into the current record.
func (s *Scanner) position(data []byte, o int) (line int64, col int) {
	before := data[:o]
	line = s.line + int64(bytes.Count(before, []byte{'\n'}))
	return line, o - bytes.LastIndexByte(before, '\n')
}

// quoteBroken ends a record whose quoted field ran over the record's first
// line end and then broke the quoting rules at data[o]: most often a stray
// '"' opened it, and the lines it swallowed are rows of their own. Like an
// unclosed quote at the end of the input, the record keeps only its first
// line, so that scanning resumes on the next. (When an earlier field holds
// the first line end, the break is the later field's own, and the record
// stays whole.)
func (s *Scanner) quoteBroken(data []byte, firstNL, o int, what string) bool {
	line, col := s.position(data, o)
	field := len(s.rec.fields) + 1
	ok := s.recover(CodeQuoteError, data, firstNL, o, false,
		fmt.Sprintf("line %d, column %d, field %d: %s, in a quoted field that began on line %d", line, col, field, what, s.line))
	s.rec.Err.Field = field
	return ok
}

// maxCutBack is how many records may be cut back to their first line
// within the lines the first of them ran over before the records starting
// there are kept to one line. Scanning such input then costs at most about
// maxCutBack times as much as the same bytes of well-formed CSV.
const maxCutBack = 8

// cutToLine ends a record whose quoted field, opened at data[open], runs
// past the line end at data[nl] while records are kept to one line.
func (s *Scanner) cutToLine(data []byte, open, nl int) bool {
	line, col := s.position(data, open)
	field := len(s.rec.fields) + 1
	s.rec.fields = s.rec.fields[:0]
	s.rec.raw = data[:nl+1]
	s.rec.Err = &ScanError{Code: CodeQuoteError, Field: field,
		Message: fmt.Sprintf("line %d, column %d, field %d: quoted field not closed on its line, where records starting before line %d are kept to one line, as %d records there ran on past their first line and were cut back",
			line, col, field, s.oneLineTo, maxCutBack)}
	return true
}

// recover ends a record that cannot be split into fields: it keeps the
// record's first physical line (or, when that line alone is too long, its
// first max bytes) so that scanning resumes right after it. o is how far
// the record was scanned; quoted says it stopped inside a quoted field,
// where a line end does not end the record.
func (s *Scanner) recover(code string, data []byte, firstNL, o int, quoted bool, msg string) bool {
	r := &s.rec
	r.fields = r.fields[:0]
	if firstNL >= 0 {
		// The lines after the first are scanned again, as records.
		if s.line >= s.reach {
			s.cutBack = 0
		}
		s.cutBack++
		s.reach = max(s.reach, s.line+int64(bytes.Count(data[:min(o, len(data))], []byte{'\n'})))
		if s.cutBack >= maxCutBack {
			s.oneLineTo = s.reach
		}
	}
	n := firstNL + 1
	if firstNL < 0 {
		if code == CodeQuoteError {
			n = o // the whole rest of the input, which fits the bound
		} else {
			n = s.max
			k := s.lineEndAt(n)
			data = s.buf[s.pos:s.end]
			if k > 0 {
				// Only the line end runs past the bound: the line is kept
				// whole, not cut into a piece and a piece holding "\n".
				// That line is the whole record unless a quoted field
				// runs on past its end.
				n += k
				if !quoted {
					msg += fmt.Sprintf(" (%d with its line end)", n)
				}
			} else {
				s.longLine = true
			}
		}
	}
	// A quoting fault on the line kept, which the record read on past, is
	// most often where it went wrong: it is named too.
	if prev := r.Err; prev != nil && prev.line == s.line {
		msg += "; its quoting broke first at " + prev.Message
	}
	what := msg
	if s.longLine {
		msg += fmt.Sprintf("; this record holds the first %d bytes of line %d, and the next ones the rest of it", n, s.line)
	} else {
		msg += "; its first line is kept as this record and scanning resumes on the next line"
	}
	r.raw = data[:n]
	r.Err = &ScanError{Code: code, Message: msg, what: what}
	return true
}

// lineEndAt returns the length of the line end ("\n" or "\r\n") that
// starts n bytes into the unreturned input, or 0. To tell "\r\n" from a
// lone '\r' it may read once more, moving the bytes in the buffer.
func (s *Scanner) lineEndAt(n int) int {
	data := s.buf[s.pos:s.end]
	if data[n] == '\r' && n+1 == len(data) && !s.eof && s.err == nil {
		s.fill()
		data = s.buf[s.pos:s.end]
	}
	switch {
	case data[n] == '\n':
		return 1
	case data[n] == '\r' && n+1 < len(data) && data[n+1] == '\n':
		return 2
	}
	return 0
}

// fill moves the unreturned bytes to the front of the buffer, grows it if
// it is full, and reads once more from r.
func (s *Scanner) fill() {
	if s.pos > 0 {
		if s.release != nil {
			if err := s.release(); err != nil {
				s.err = err
				return
			}
		}
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		// Only a record longer than the buffer fills it, and no record
		// needs more than max+1 bytes to be told apart from a longer one,
		// or max+2 to see that a line ends in "\r\n" right past the bound.
		size := 2 * len(s.buf)
		if size < readBufSize {
			size = readBufSize
		} else if size > s.max+1 {
			size = max(s.max+1, len(s.buf)+1)
		}
		buf := make([]byte, size)
		copy(buf, s.buf[:s.end])
		s.buf = buf
	}
	for range maxEmptyReads {
		n, err := s.r.Read(s.buf[s.end:])
		if n < 0 || n > len(s.buf)-s.end {
			s.err = fmt.Errorf("csvstream: reading input after byte %d: reader returned invalid count %d", s.read, n)
			return
		}
		s.end += n
		s.read += int64(n)
		if err == io.EOF {
			s.eof = true
			return
		}
		if err != nil {
			s.err = fmt.Errorf("csvstream: reading input after byte %d (record starting on line %d): %w", s.read, s.line, err)
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = fmt.Errorf("csvstream: reading input after byte %d: %w", s.read, io.ErrNoProgress)
}
