package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The event shapes Invoke accepts.
const (
	shapeS3          = "s3"          // S3 event notification: Records[].s3
	shapeS3Test      = "s3-test"     // the s3:TestEvent S3 sends when notifications are set up
	shapeEventBridge = "eventbridge" // EventBridge event from aws.s3
	shapeSQS         = "sqs"         // SQS messages whose bodies are S3 or EventBridge events
	shapeDirect      = "direct"      // {"bucket": ..., "key": ...}
	shapeSchedule    = "schedule"    // EventBridge Scheduled Event: sweep
	shapeSweep       = "sweep"       // {"sweep": {...}}
)

// expectedShapes lists the shapes for the error on an unknown event.
const expectedShapes = `an S3 event notification (Records[].s3), an S3 test event, ` +
	`an EventBridge "Object Created" event from aws.s3, an SQS event whose messages carry either, ` +
	`a direct payload {"bucket": ..., "key": ...}, an EventBridge "Scheduled Event", ` +
	`or {"sweep": {...}}`

// probe holds the fields that tell the event shapes apart.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Event      string          `json:"Event"` // "s3:TestEvent"
	Bucket     json.RawMessage `json:"bucket"`
	Key        json.RawMessage `json:"key"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Sweep      json.RawMessage `json:"sweep"`
	// An SNS notification, when S3 events reach SQS through SNS.
	Type    string `json:"Type"`
	Message string `json:"Message"`
	// The record Lambda sends to an on-failure destination: the event that
	// failed is its requestPayload.
	RequestContext json.RawMessage `json:"requestContext"`
	RequestPayload json.RawMessage `json:"requestPayload"`
}

// shapeOf tells which shape event has. For an SNS notification wrapping
// another event (S3 → SNS → SQS), or for the record of a failed
// asynchronous invocation that Lambda sends to an on-failure destination,
// it returns the inner event's shape and the inner event, so that such a
// record can be sent back to the function as it is.
func shapeOf(event []byte) (string, []byte, error) { return unwrap(event, 0) }

// maxWrapping is the most envelopes shapeOf takes an event out of: a
// replayed record that fails again is wrapped once more each time.
const maxWrapping = 8

// unwrap is shapeOf for an event inside depth envelopes.
func unwrap(event []byte, depth int) (string, []byte, error) {
	if depth > maxWrapping {
		return "", nil, fmt.Errorf("the event is wrapped in more than %d SNS notifications or failure records", maxWrapping)
	}
	trimmed := bytes.TrimSpace(event)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", nil, fmt.Errorf("the event is not a JSON object; want %s", expectedShapes)
	}
	var p probe
	if err := json.Unmarshal(trimmed, &p); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return "", nil, fmt.Errorf("the event is not valid JSON: %w; want %s", jsonProblem(err), expectedShapes)
		}
		return "", nil, fmt.Errorf("unrecognised event: %w; want %s", jsonProblem(err), expectedShapes)
	}
	switch {
	case p.Event == "s3:TestEvent":
		return shapeS3Test, trimmed, nil
	case len(p.Records) > 0:
		src := p.Records[0].EventSource
		for i, r := range p.Records {
			if r.EventSource != src {
				return "", nil, fmt.Errorf("record %d has eventSource %s, record 0 has %s: one event mixes sources", i, quoteValue(r.EventSource), quoteValue(src))
			}
		}
		switch src {
		case "aws:s3":
			return shapeS3, trimmed, nil
		case "aws:sqs":
			return shapeSQS, trimmed, nil
		}
		return "", nil, fmt.Errorf("records with eventSource %s: want aws:s3 or aws:sqs", quoteValue(src))
	case p.Source == "aws.s3":
		return shapeEventBridge, trimmed, nil
	case p.Source == "aws.events" && p.DetailType == "Scheduled Event":
		return shapeSchedule, trimmed, nil
	case p.Sweep != nil:
		return shapeSweep, trimmed, nil
	case p.Bucket != nil || p.Key != nil:
		return shapeDirect, trimmed, nil
	case p.Type == "Notification" && p.Message != "":
		shape, inner, err := unwrap([]byte(p.Message), depth+1)
		if err != nil {
			return "", nil, fmt.Errorf("SNS message: %w", err)
		}
		return shape, inner, nil
	case p.RequestContext != nil && p.RequestPayload != nil:
		shape, inner, err := unwrap(p.RequestPayload, depth+1)
		if err != nil {
			return "", nil, fmt.Errorf("the failed invocation's requestPayload: %w", err)
		}
		return shape, inner, nil
	}
	return "", nil, fmt.Errorf("unrecognised event; want %s", expectedShapes)
}

// objectEvent is one object an event announces.
type objectEvent struct {
	Bucket, Key string
	// Skip, when set, says why the object is not processed (a deletion, a
	// folder marker).
	Skip  string
	Event string // the event's name, for the result of a skipped object
}

// parseS3Event returns the objects of an S3 event notification, with keys
// URL-decoded (S3 encodes them as in a query string, "+" for a space).
func parseS3Event(event []byte) ([]objectEvent, error) {
	var e events.S3Event
	if err := json.Unmarshal(event, &e); err != nil {
		var esc url.EscapeError
		if errors.As(err, &esc) {
			return nil, badKeyEscape(event, err)
		}
		return nil, fmt.Errorf("S3 event notification: %w", &jsonError{err: err, timeField: badEventTime(event)})
	}
	var objs []objectEvent
	for i, r := range e.Records {
		o := objectEvent{Bucket: r.S3.Bucket.Name, Key: r.S3.Object.URLDecodedKey, Event: r.EventName}
		if o.Bucket == "" || r.S3.Object.Key == "" {
			return nil, fmt.Errorf("S3 event notification: record %d has no s3.bucket.name or s3.object.key", i)
		}
		// The decoded key: its URL encoding takes three bytes for each
		// byte of a non-ASCII character, and S3 bounds the key itself.
		if err := checkNames("s3.bucket.name", o.Bucket, "s3.object.key", o.Key); err != nil {
			return nil, fmt.Errorf("S3 event notification: record %d: %w", i, err)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			o.Skip = "not an object creation"
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// badKeyEscape names the record whose key is not URL-encoded, as S3 sends
// keys: a hand-built event with a raw key holding % fails to decode.
func badKeyEscape(event []byte, err error) error {
	var raw struct {
		Records []struct {
			S3 struct {
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if json.Unmarshal(event, &raw) == nil {
		for i, r := range raw.Records {
			if _, kerr := url.QueryUnescape(r.S3.Object.Key); kerr != nil {
				err = fmt.Errorf("record %d: s3.object.key %s is not URL-encoded as S3 sends keys (%%25 for %%, %%2B for +, + for a space): %w", i, quoteValue(r.S3.Object.Key), kerr)
				break
			}
		}
	}
	return fmt.Errorf("S3 event notification: %w", err)
}

// badEventTime names the first record whose eventTime aws-lambda-go cannot
// read, or returns "" when they all can (another time field failed).
func badEventTime(event []byte) string {
	var raw struct {
		Records []struct {
			EventTime json.RawMessage `json:"eventTime"`
		} `json:"Records"`
	}
	if json.Unmarshal(event, &raw) == nil {
		for i, r := range raw.Records {
			var t time.Time
			if r.EventTime != nil && t.UnmarshalJSON(r.EventTime) != nil {
				return fmt.Sprintf("record %d: eventTime", i)
			}
		}
	}
	return ""
}

// s3Detail is the detail of an EventBridge event from aws.s3.
type s3Detail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key string `json:"key"`
	} `json:"object"`
}

// parseEventBridge returns the object of an EventBridge S3 event. Its key
// is not URL-encoded.
func parseEventBridge(event []byte) (objectEvent, error) {
	var e events.EventBridgeEvent
	if err := json.Unmarshal(event, &e); err != nil {
		return objectEvent{}, fmt.Errorf("EventBridge event: %w", &jsonError{err: err, timeField: "time"})
	}
	var d s3Detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return objectEvent{}, fmt.Errorf("EventBridge event detail: %w", jsonProblem(err))
	}
	o := objectEvent{Bucket: d.Bucket.Name, Key: d.Object.Key, Event: e.DetailType}
	if e.DetailType != "Object Created" {
		// Other S3 events, CloudTrail's API calls among them, need no
		// work, and may name no object.
		o.Skip = "not an object creation"
		return o, nil
	}
	if o.Bucket == "" || o.Key == "" {
		return objectEvent{}, errors.New("EventBridge event: no detail.bucket.name or detail.object.key")
	}
	if err := checkNames("detail.bucket.name", o.Bucket, "detail.object.key", o.Key); err != nil {
		return objectEvent{}, fmt.Errorf("EventBridge event: %w", err)
	}
	return o, nil
}

// directRequest is a direct invocation's payload, as the AWS CLI or a Step
// Functions task sends it.
type directRequest struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Destination is the object for valid rows, or a prefix (ending in
	// "/") under which it is named by the usual rule; empty uses the
	// configured output.
	Destination string `json:"destination"`
	// Rejects is the object or prefix for rejected rows; empty puts them
	// next to an explicit Destination, or else under the configured
	// rejects prefix.
	Rejects string `json:"rejects"`
	// Schema is an s3:// schema for this job; empty uses the configured one.
	Schema string `json:"schema"`
	// Format is csv (default) or jsonl.
	Format string `json:"format"`
	// Delimiter is the field delimiter, such as ";" or "tab"; empty uses
	// the configured one.
	Delimiter string `json:"delimiter"`
	// VersionID is the version of the object to read, in a versioned
	// bucket; empty reads the latest.
	VersionID string `json:"version_id"`
}

// parseDirect decodes a direct payload, refusing unknown fields so that a
// misspelt option is an error rather than silently ignored.
func parseDirect(event []byte) (directRequest, error) {
	var r directRequest
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf(`direct payload: %w; want {"bucket", "key", "destination", "rejects", "schema", "format", "delimiter", "version_id"}`, jsonProblem(err))
	}
	if r.Bucket == "" || r.Key == "" {
		return r, errors.New(`direct payload: "bucket" and "key" are both required`)
	}
	if err := checkNames(`"bucket"`, r.Bucket, `"key"`, r.Key, `"destination"`, r.Destination, `"rejects"`, r.Rejects,
		`"schema"`, r.Schema, `"format"`, r.Format, `"delimiter"`, r.Delimiter, `"version_id"`, r.VersionID); err != nil {
		return r, fmt.Errorf("direct payload: %w", err)
	}
	if strings.HasSuffix(r.Key, "/") {
		// The outputs would be named like folders too.
		return r, fmt.Errorf(`direct payload: "key" %q ends with /: it names a folder, not a CSV object`, r.Key)
	}
	return r, nil
}

// sweepRequest is a direct sweep payload's "sweep" object.
type sweepRequest struct {
	// Prefixes lists s3://bucket/prefix places to sweep; empty means the
	// configured output and rejects prefixes.
	Prefixes []string `json:"prefixes"`
	// OlderThan is a Go duration such as "24h"; empty means the
	// configured age.
	OlderThan string `json:"older_than"`
	// DryRun lists without aborting.
	DryRun bool `json:"dry_run"`
}

func parseSweep(event []byte) (sweepRequest, error) {
	var env struct {
		Sweep sweepRequest `json:"sweep"`
	}
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return sweepRequest{}, fmt.Errorf(`sweep payload: %w; want {"sweep": {"prefixes": [...], "older_than": "24h", "dry_run": false}}`, jsonProblem(err))
	}
	for i, p := range env.Sweep.Prefixes {
		if err := checkNames(fmt.Sprintf(`"prefixes"[%d]`, i), p); err != nil {
			return sweepRequest{}, fmt.Errorf("sweep payload: %w", err)
		}
	}
	return env.Sweep, nil
}

// maxName is the longest name an event may give: an s3:// URL with the
// longest bucket name (63 bytes) and key (1,024 bytes). A longer one names
// nothing S3 holds, and each message quoting it would swell the error, the
// log line and a Step Functions error's cause.
const maxName = len("s3://") + 63 + 1 + 1024

// checkNames refuses the first of its values longer than maxName; they
// come in pairs of what the value is and the value.
func checkNames(whatAndValue ...string) error {
	for i := 0; i+1 < len(whatAndValue); i += 2 {
		if v := whatAndValue[i+1]; len(v) > maxName {
			return fmt.Errorf("%s is %d bytes long (%s): no S3 name takes more than %d", whatAndValue[i], len(v), quoteValue(v), maxName)
		}
	}
	return nil
}

// maxShown is how many bytes of an event's value a message quotes.
const maxShown = 80

// quoteValue quotes s, a value from an event, for a message: cut to
// maxShown bytes on a character boundary, and followed by "...", when
// longer.
func quoteValue(s string) string {
	head, cut := clip(s)
	if cut {
		return strconv.Quote(head) + "..."
	}
	return strconv.Quote(s)
}

// shownID is an SQS message id as messages and log lines give it: whole
// when it is no longer than maxShown bytes, as real ids (36 characters)
// are, else cut and followed by "...".
func shownID(id string) string {
	if head, cut := clip(id); cut {
		return head + "..."
	}
	return id
}

// clip returns s cut to maxShown bytes on a character boundary, and
// whether it cut anything.
func clip(s string) (string, bool) {
	if len(s) <= maxShown {
		return s, false
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// jsonProblem wraps an error from encoding/json so that it says what is
// wrong with the event in the event's terms rather than Go's: a value of
// the wrong JSON type names its field and both types.
func jsonProblem(err error) error { return &jsonError{err: err} }

// jsonError is an encoding/json error told in the event's terms.
type jsonError struct {
	err error
	// timeField names the time field that failed, which aws-lambda-go
	// reads as a time.Time, whose errors name no field; "" when unknown.
	timeField string
}

func (e *jsonError) Unwrap() error { return e.err }

func (e *jsonError) Error() string {
	err := e.err
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	var tim *time.ParseError
	switch {
	case errors.As(err, &typ):
		want := "a value of another type"
		switch typ.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		}
		got := typ.Value // "string", "number 1.5", "bool", "array", "object"
		if got == "bool" {
			got = "boolean"
		}
		if typ.Field == "" {
			return fmt.Sprintf("the event is a JSON %s, want %s", got, want)
		}
		return fmt.Sprintf("%q is a JSON %s, want %s", typ.Field, got, want)
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	case errors.As(err, &tim):
		return fmt.Sprintf("%s %s is not in RFC 3339 form, such as 2006-01-02T15:04:05Z", e.timeName(), quoteValue(tim.Value))
	case strings.HasPrefix(err.Error(), "Time.UnmarshalJSON: "):
		// A time that is no JSON string: time.Time says so in Go's words.
		return fmt.Sprintf("%s is not a string: want an RFC 3339 time such as \"2006-01-02T15:04:05Z\"", e.timeName())
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if field, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if name, err := strconv.Unquote(field); err == nil {
			msg = "unknown field " + quoteValue(name)
		}
	}
	return msg
}

// timeName names the time field of a time error.
func (e *jsonError) timeName() string {
	if e.timeField == "" {
		return "a time"
	}
	return e.timeField
}
