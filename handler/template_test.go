package handler

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/csvstream/csvstream/csvstream"
	"gopkg.in/yaml.v3"
)

// These tests read the deployment files at the module root: template.yaml
// (AWS SAM), the Makefile target SAM builds the function with, and the
// sample events. They check the properties the function relies on, so a
// change to the template that would break a deployment fails here first.

// tplTypedErrors returns the error types the function returns and Step
// Functions matches on.
func tplTypedErrors() []string {
	return []string{
		"SourceNotFound", "SchemaError", "HeaderMismatch", "TooManyRejects",
		"UploadFailed", "InvalidEvent", "RecursionRisk", "Timeout", "InternalError",
		"SourceChanged", "SourceReadFailed", "AccessDenied",
	}
}

// tplDeterministicErrors returns the typed errors that fail the same way
// however often they are retried.
func tplDeterministicErrors() []string {
	return []string{
		"SourceNotFound", "SchemaError", "HeaderMismatch", "TooManyRejects",
		"InvalidEvent", "RecursionRisk", "AccessDenied",
	}
}

// tplTransientLambdaErrors returns the Lambda service errors a task should
// retry.
func tplTransientLambdaErrors() []string {
	return []string{
		"Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException",
		"Lambda.AWSLambdaException", "Lambda.SdkClientException",
		"Lambda.TooManyRequestsException",
	}
}

// tplDoc is template.yaml with the short-form intrinsic functions (!Ref,
// !Sub, !GetAtt...) turned into their long form ({"Ref": ...},
// {"Fn::Sub": ...}, {"Fn::GetAtt": [resource, attribute]}).
type tplDoc struct {
	root      map[string]any
	params    map[string]any
	resources map[string]any
}

func tplLoad(t *testing.T) *tplDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "template.yaml"))
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	v, err := tplFromNode(&n)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("template.yaml: top level is %T, want a mapping", v)
	}
	tp := &tplDoc{root: root}
	tp.params, _ = root["Parameters"].(map[string]any)
	tp.resources, _ = root["Resources"].(map[string]any)
	if len(tp.resources) == 0 {
		t.Fatal("template.yaml: no Resources")
	}
	return tp
}

// tplFromNode converts a YAML node to maps, slices and scalars, expanding the
// CloudFormation short-form tags.
func tplFromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return tplFromNode(n.Content[0])
	case yaml.AliasNode:
		return tplFromNode(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return tplIntrinsic(n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := tplFromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := tplFromNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// tplIntrinsic expands one short-form tag such as !Sub or !GetAtt.
func tplIntrinsic(n *yaml.Node) (any, error) {
	name := strings.TrimPrefix(n.Tag, "!")
	plain := *n
	plain.Tag = ""
	if n.Kind == yaml.ScalarNode {
		plain.Tag = "!!str"
	}
	v, err := tplFromNode(&plain)
	if err != nil {
		return nil, err
	}
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// tplLookup follows a path of map keys through nested maps.
func tplLookup(v any, path ...string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func tplMust(t *testing.T, v any, path ...string) any {
	t.Helper()
	got, ok := tplLookup(v, path...)
	if !ok {
		t.Fatalf("template.yaml: %s is missing", strings.Join(path, "."))
	}
	return got
}

// tplNumber returns the number at path, or def when the path is absent.
func tplNumber(t *testing.T, v any, def float64, path ...string) float64 {
	t.Helper()
	got, ok := tplLookup(v, path...)
	if !ok {
		return def
	}
	switch n := got.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	t.Fatalf("template.yaml: %s is %v, not a number", strings.Join(path, "."), got)
	return 0
}

// retryWait returns the longest a Step Functions retrier waits in all,
// with the language's defaults for the fields it leaves out.
func retryWait(t *testing.T, r any) float64 {
	t.Helper()
	interval := tplNumber(t, r, 1, "IntervalSeconds")
	attempts := tplNumber(t, r, 3, "MaxAttempts")
	backoff := tplNumber(t, r, 2, "BackoffRate")
	most := tplNumber(t, r, math.Inf(1), "MaxDelaySeconds")
	var wait float64
	for i := range int(attempts) {
		wait += min(interval*math.Pow(backoff, float64(i)), most)
	}
	return wait
}

// tplRender returns a string, a !Ref, a !GetAtt or a !Sub of a string in the
// !Sub syntax: "${Name}" for a Ref and "${Resource.Attribute}" for a
// GetAtt. Other values tplRender as their Go syntax, which matches nothing.
func tplRender(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if r, ok := v["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if s, ok := v["Fn::Sub"].(string); ok {
			return s
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return fmt.Sprintf("${%v.%v}", ga[0], ga[1])
		}
	}
	return fmt.Sprintf("%#v", v)
}

// tplStrings returns v as a list of strings: a string is a list of one.
func tplStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var s []string
		for _, e := range v {
			s = append(s, tplRender(e))
		}
		return s
	}
	return []string{tplRender(v)}
}

// resourcesOfType returns the logical ids of the resources of one type.
func (tp *tplDoc) resourcesOfType(typ string) []string {
	var ids []string
	for id, r := range tp.resources {
		if got, _ := tplLookup(r, "Type"); got == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (tp *tplDoc) only(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	ids := tp.resourcesOfType(typ)
	if len(ids) != 1 {
		t.Fatalf("template.yaml: %d resources of type %s (%v), want 1", len(ids), typ, ids)
	}
	return ids[0], tp.resources[ids[0]].(map[string]any)
}

// paramDefault returns the default of the parameter v refers to, or v
// itself when it is not a !Ref to a parameter.
func (tp *tplDoc) paramDefault(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if name, ok := m["Ref"].(string); ok {
			if d, ok := tplLookup(tp.params, name, "Default"); ok {
				return d
			}
		}
	}
	return v
}

var tplSubVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// tplRefs returns the resource and parameter names v refers to through
// Ref, GetAtt and Sub.
func tplRefs(v any) map[string]bool {
	refs := make(map[string]bool)
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch k {
				case "Ref":
					if s, ok := e.(string); ok {
						refs[s] = true
					}
				case "Fn::GetAtt":
					if ga, ok := e.([]any); ok && len(ga) > 0 {
						refs[fmt.Sprint(ga[0])] = true
					}
				case "Fn::Sub":
					s := e
					if l, ok := e.([]any); ok && len(l) > 0 {
						s = l[0]
					}
					if str, ok := s.(string); ok {
						for _, m := range tplSubVar.FindAllStringSubmatch(str, -1) {
							name, _, _ := strings.Cut(m[1], ".")
							refs[name] = true
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return refs
}

// tplStatements flattens inline IAM policy documents listed in a SAM
// Policies property into action -> set of rendered resources. It fails on
// anything but inline documents (managed policy names and SAM policy
// templates hide their actions and resources) and on Deny, NotAction or
// NotResource, which would make the sets meaningless.
func tplStatements(t *testing.T, owner string, policies any) map[string][]string {
	t.Helper()
	list, ok := policies.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: Policies is %T, want a list of inline policy documents", owner, policies)
	}
	got := make(map[string][]string)
	for i, p := range list {
		stmts, ok := tplLookup(p, "Statement")
		if !ok {
			t.Fatalf("%s: Policies[%d] is %v, want an inline policy document (managed policies and policy templates hide what they allow)", owner, i, p)
		}
		sl, ok := stmts.([]any)
		if !ok {
			sl = []any{stmts}
		}
		for j, s := range sl {
			s = tplIfTrue(s)
			if _, ok := s.(map[string]any); !ok {
				continue // the !Ref AWS::NoValue of a condition's false branch
			}
			sm, ok := s.(map[string]any)
			if !ok {
				t.Fatalf("%s: Policies[%d].Statement[%d] is %T", owner, i, j, s)
			}
			if sm["Effect"] != "Allow" {
				t.Errorf("%s: Policies[%d].Statement[%d]: Effect %v, want Allow", owner, i, j, sm["Effect"])
			}
			for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
				if _, ok := sm[k]; ok {
					t.Errorf("%s: Policies[%d].Statement[%d] uses %s", owner, i, j, k)
				}
			}
			for _, a := range tplStrings(sm["Action"]) {
				for _, r := range tplStrings(sm["Resource"]) {
					if !slices.Contains(got[a], r) {
						got[a] = append(got[a], r)
					}
				}
			}
		}
	}
	for a := range got {
		sort.Strings(got[a])
	}
	return got
}

// tplIfTrue returns the true branch of an !If, as the template reads with
// every condition true, or v itself when it is not an !If.
func tplIfTrue(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if args, ok := m["Fn::If"].([]any); ok && len(args) == 3 {
			return tplIfTrue(args[1])
		}
	}
	return v
}

// function returns the logical id and the resource of the one
// AWS::Serverless::Function.
func (tp *tplDoc) function(t *testing.T) (string, map[string]any) {
	t.Helper()
	return tp.only(t, "AWS::Serverless::Function")
}

// bucketArns returns the ARNs the function's policy names the input and
// output buckets by: the input's built from its name, the output's by
// reference.
func (tp *tplDoc) bucketArns(t *testing.T) (input, output string) {
	t.Helper()
	in, out := tp.buckets(t)
	return "arn:${AWS::Partition}:s3:::" + tplRender(tplMust(t, tp.resources[in], "Properties", "BucketName")), "${" + out + ".Arn}"
}

// buckets returns the logical ids of the input bucket (the one the S3 event
// watches) and the output bucket (the other one).
func (tp *tplDoc) buckets(t *testing.T) (input, output string) {
	t.Helper()
	_, fn := tp.function(t)
	events, _ := tplMust(t, fn, "Properties", "Events").(map[string]any)
	for _, e := range events {
		if typ, _ := tplLookup(e, "Type"); typ == "S3" {
			input = tplRender(tplMust(t, e, "Properties", "Bucket"))
			input = strings.TrimSuffix(strings.TrimPrefix(input, "${"), "}")
		}
	}
	ids := tp.resourcesOfType("AWS::S3::Bucket")
	if len(ids) != 2 || !slices.Contains(ids, input) {
		t.Fatalf("template.yaml: buckets %v with input %q, want two: the input bucket of the S3 event and an output bucket", ids, input)
	}
	for _, id := range ids {
		if id != input {
			output = id
		}
	}
	return input, output
}

func TestTemplateHeader(t *testing.T) {
	tp := tplLoad(t)
	if got := tp.root["Transform"]; got != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %v, want AWS::Serverless-2016-10-31", got)
	}
	if got := tp.root["AWSTemplateFormatVersion"]; got != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %v, want 2010-09-09", got)
	}
}

func TestTemplateFunction(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	tests := []struct {
		path []string
		want any
	}{
		{[]string{"Properties", "Runtime"}, "provided.al2023"},
		{[]string{"Properties", "Handler"}, "bootstrap"},
		{[]string{"Properties", "CodeUri"}, "."},
		{[]string{"Properties", "Architectures"}, []any{"arm64"}},
		{[]string{"Properties", "LoggingConfig", "LogFormat"}, "JSON"},
		{[]string{"Metadata", "BuildMethod"}, "makefile"},
	}
	for _, tt := range tests {
		name := strings.Join(tt.path, ".")
		t.Run(name, func(t *testing.T) {
			got := tplMust(t, fn, tt.path...)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s = %v, want %v", name, got, tt.want)
			}
		})
	}
	for _, prop := range []string{"MemorySize", "Timeout"} {
		t.Run(prop, func(t *testing.T) {
			v := tplMust(t, fn, "Properties", prop)
			m, ok := v.(map[string]any)
			name, isRef := m["Ref"].(string)
			if !ok || !isRef {
				t.Fatalf("%s = %v, want a !Ref to a parameter", prop, v)
			}
			if typ, _ := tplLookup(tp.params, name, "Type"); typ != "Number" {
				t.Errorf("%s refers to parameter %q of type %v, want a Number parameter", prop, name, typ)
			}
			if _, ok := tplLookup(tp.params, name, "Default"); !ok {
				t.Errorf("parameter %q has no Default", name)
			}
		})
	}
	t.Run("Timeout leaves the deadline margin whole", func(t *testing.T) {
		// A job stops DefaultDeadlineMargin before the deadline, or a
		// quarter of the time left if that is shorter.
		v, _ := tplLookup(tp.params, "Timeout", "MinValue")
		secs, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil || time.Duration(secs)*time.Second/4 < DefaultDeadlineMargin {
			t.Errorf("Timeout MinValue %v: want at least %v seconds", v, 4*DefaultDeadlineMargin.Seconds())
		}
	})
	t.Run("concurrency parameters", func(t *testing.T) {
		// CloudFormation passes a Number parameter on as it was written,
		// so 8.0 would deploy and then fail the function's start-up.
		for _, p := range []struct{ param, env string }{{"Concurrency", EnvConcurrency}, {"ReadConcurrency", EnvReadConcurrency}} {
			re := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, p.param, "AllowedPattern")))
			for _, v := range []string{"0", "1", "9", "10", "59", "60", "64", "65", "100", "01", "8.0", "2.5", "-1", "", " 4"} {
				_, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://o/", p.env: v}))
				if re.MatchString(v) && err != nil {
					t.Errorf("%s %q passes the template but fails the function's start-up: %v", p.param, v, err)
				}
				if want := v != "" && err == nil && !strings.HasPrefix(v, "0") && !strings.HasPrefix(v, " "); re.MatchString(v) != want {
					t.Errorf("%s %q: allowed %v, want %v", p.param, v, !want, want)
				}
			}
		}
	})
	t.Run("ReservedConcurrentExecutions", func(t *testing.T) {
		// Reserved only when asked: a reservation fails the deployment in
		// an account whose limit leaves nothing to reserve.
		want := map[string]any{"Fn::If": []any{"HasReservedConcurrency", map[string]any{"Ref": "ReservedConcurrency"}, map[string]any{"Ref": "AWS::NoValue"}}}
		if got := tplMust(t, fn, "Properties", "ReservedConcurrentExecutions"); !reflect.DeepEqual(got, want) {
			t.Errorf("ReservedConcurrentExecutions = %v, want %v", got, want)
		}
		cond := tplMust(t, tp.root, "Conditions", "HasReservedConcurrency")
		if want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "ReservedConcurrency"}, "0"}}}}; !reflect.DeepEqual(cond, want) {
			t.Errorf("HasReservedConcurrency = %v, want %v", cond, want)
		}
		if d, _ := tplLookup(tp.params, "ReservedConcurrency", "Default"); d != "0" {
			t.Errorf("ReservedConcurrency Default = %v, want 0 (none reserved)", d)
		}
		// The condition compares text: only "0" may mean none.
		pat, _ := tplLookup(tp.params, "ReservedConcurrency", "AllowedPattern")
		re := regexp.MustCompile(fmt.Sprint(pat))
		for v, ok := range map[string]bool{"0": true, "1": true, "250": true, "00": false, "01": false, "-1": false, "": false, "1.5": false} {
			if re.MatchString(v) != ok {
				t.Errorf("ReservedConcurrency %q: allowed %v, want %v", v, !ok, ok)
			}
		}
	})
	if _, ok := fn["DependsOn"]; ok {
		t.Error("the function has DependsOn; with the S3 event that risks a circular dependency")
	}
}

// TestTemplateMakefileTarget checks that `sam build` finds the target the
// makefile build method runs, and that it builds for the function's
// architecture.
func TestTemplateMakefileTarget(t *testing.T) {
	tp := tplLoad(t)
	id, fn := tp.function(t)
	b, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(b)
	target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(id) + `:.*\n((?:\t.*\n)+)`)
	m := target.FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile has no target build-%s with a recipe", id)
	}
	if !strings.Contains(m[1], "$(ARTIFACTS_DIR)/bootstrap") {
		t.Errorf("target build-%s does not write $(ARTIFACTS_DIR)/bootstrap:\n%s", id, m[1])
	}
	arch := regexp.MustCompile(`(?m)^LAMBDA_GOARCH\s*:=\s*(\S+)`).FindStringSubmatch(mk)
	want := fmt.Sprint(tplMust(t, fn, "Properties", "Architectures").([]any)[0])
	if arch == nil || arch[1] != want {
		t.Errorf("Makefile LAMBDA_GOARCH = %v, want %s to match the function's Architectures", arch, want)
	}
}

// TestMakefileBootstrapMode runs the target `sam build` runs under umask
// 077, as on a hardened build host, with a stand-in for go that writes the
// binary as go build does (0777 less the umask). Lambda runs the bootstrap
// as a user other than its owner, and SAM's zip adds only read bits, so
// both the bootstrap in dist and the one handed to SAM must be 0755.
func TestMakefileBootstrapMode(t *testing.T) {
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "go")
	script := `#!/bin/sh
[ "$1" = env ] && { echo amd64; exit 0; }
while [ $# -gt 0 ]; do
	[ "$1" = -o ] && { : > "$2" && chmod "$(printf %o $((0777 & ~$(umask))))" "$2"; exit; }
	shift
done
exit 1
`
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	src, artifacts := t.TempDir(), t.TempDir() // sam build copies the sources elsewhere
	if err := os.WriteFile(filepath.Join(src, "Makefile"), mk, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `umask 077 && exec make -s GO="$FAKE_GO" build-CsvstreamFunction`)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "FAKE_GO="+fakeGo, "ARTIFACTS_DIR="+artifacts)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-CsvstreamFunction: %v\n%s", err, out)
	}
	for _, p := range []string{filepath.Join(src, "dist", "bootstrap"), filepath.Join(artifacts, "bootstrap")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o755 {
			t.Errorf("%s has mode %v after a build under umask 077, want -rwxr-xr-x: Lambda could not run it", p, got)
		}
	}
}

func TestTemplateEnvironment(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	input, output := tp.buckets(t)
	vars, ok := tplMust(t, fn, "Properties", "Environment", "Variables").(map[string]any)
	if !ok {
		t.Fatal("Environment.Variables is not a mapping")
	}
	want := []string{
		"CSVSTREAM_CONCURRENCY", "CSVSTREAM_DELIMITER", "CSVSTREAM_INPUT_PREFIX", "CSVSTREAM_MAX_REJECT_RATIO",
		"CSVSTREAM_OUTPUT", "CSVSTREAM_PART_SIZE", "CSVSTREAM_READ_CONCURRENCY", "CSVSTREAM_REJECTS", "CSVSTREAM_SCHEMA",
		"CSVSTREAM_SWEEP_OLDER_THAN",
	}
	var got []string
	for k := range vars {
		got = append(got, k)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("environment variables %v, want %v", got, want)
	}
	inputName := tplRender(tplMust(t, tp.resources[input], "Properties", "BucketName"))
	tests := []struct {
		name string
		want string
	}{
		{"CSVSTREAM_OUTPUT", "s3://${" + output + "}/valid/"},
		{"CSVSTREAM_REJECTS", "s3://${" + output + "}/rejects/"},
		{"CSVSTREAM_SCHEMA", "s3://" + inputName + "/${SchemaKey}"},
		{"CSVSTREAM_INPUT_PREFIX", "${InputPrefix}"},
		// A sweep the schedule did not start (a manual payload without
		// older_than, say) uses the stack's age too.
		{"CSVSTREAM_SWEEP_OLDER_THAN", "${SweepOlderThan}"},
	}
	for _, tt := range tests {
		if got := tplRender(vars[tt.name]); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
	// Every delimiter the template offers is one the function accepts.
	if got := tplRender(vars[EnvDelimiter]); got != "${Delimiter}" {
		t.Fatalf("%s = %s, want ${Delimiter}", EnvDelimiter, got)
	}
	for _, d := range tplStrings(tplMust(t, tp.params, "Delimiter", "AllowedValues")) {
		if _, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://o/", EnvDelimiter: d})); err != nil {
			t.Errorf("Delimiter %q: %v", d, err)
		}
	}
}

func TestTemplateS3Event(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	input, _ := tp.buckets(t)
	events := tplMust(t, fn, "Properties", "Events").(map[string]any)
	var s3Events []any
	for _, e := range events {
		if typ, _ := tplLookup(e, "Type"); typ == "S3" {
			s3Events = append(s3Events, e)
		}
	}
	if len(s3Events) != 1 {
		t.Fatalf("%d S3 events, want 1", len(s3Events))
	}
	e := s3Events[0]
	if got := tplStrings(tplMust(t, e, "Properties", "Events")); !slices.Contains(got, "s3:ObjectCreated:*") {
		t.Errorf("S3 event Events = %v, want s3:ObjectCreated:*", got)
	}
	if got := tplRender(tplMust(t, e, "Properties", "Bucket")); got != "${"+input+"}" {
		t.Errorf("S3 event Bucket = %s, want !Ref %s", got, input)
	}
	rules, _ := tplMust(t, e, "Properties", "Filter", "S3Key", "Rules").([]any)
	filter := make(map[string]any)
	for _, r := range rules {
		name, _ := tplLookup(r, "Name")
		value, _ := tplLookup(r, "Value")
		filter[fmt.Sprint(name)] = value
	}
	tests := []struct{ rule, param, def string }{
		{"prefix", "InputPrefix", "incoming/"},
		{"suffix", "InputSuffix", ".csv"},
	}
	for _, tt := range tests {
		v, ok := filter[tt.rule]
		if !ok {
			t.Errorf("S3 event has no %s filter rule", tt.rule)
			continue
		}
		if got := tplRender(v); got != "${"+tt.param+"}" {
			t.Errorf("%s rule = %s, want !Ref %s", tt.rule, got, tt.param)
		}
		if got := tp.paramDefault(v); got != tt.def {
			t.Errorf("%s default = %v, want %q", tt.param, got, tt.def)
		}
	}
}

// TestTemplateNoCircularDependency checks the function refers to the input
// bucket only from its S3 event: the bucket's notification depends on the
// function, so any other reference would be a circular dependency.
func TestTemplateNoCircularDependency(t *testing.T) {
	tp := tplLoad(t)
	id, fn := tp.function(t)
	input, _ := tp.buckets(t)
	props := tplMust(t, fn, "Properties").(map[string]any)
	for k, v := range props {
		if k == "Events" {
			continue
		}
		if tplRefs(v)[input] {
			t.Errorf("%s.Properties.%s refers to %s; build the input bucket's name or ARN from parameters instead", id, k, input)
		}
	}
	if refs := tplRefs(tp.resources[input]); refs[id] {
		t.Errorf("%s refers to the function %s directly", input, id)
	}
}

func TestTemplateBuckets(t *testing.T) {
	tp := tplLoad(t)
	input, output := tp.buckets(t)
	rules, _ := tplMust(t, tp.resources[output], "Properties", "LifecycleConfiguration", "Rules").([]any)
	found := false
	for _, r := range rules {
		days, ok := tplLookup(r, "AbortIncompleteMultipartUpload", "DaysAfterInitiation")
		status, _ := tplLookup(r, "Status")
		if ok && days == 1 && status == "Enabled" {
			found = true
		}
	}
	if !found {
		t.Errorf("%s has no enabled lifecycle rule AbortIncompleteMultipartUpload with DaysAfterInitiation 1", output)
	}
	if _, ok := tplLookup(tp.resources[output], "Properties", "NotificationConfiguration"); ok {
		t.Errorf("%s has notifications; what the function writes must not trigger anything", output)
	}
	in := tplRender(tplMust(t, tp.resources[input], "Properties", "BucketName"))
	out := tplRender(tplMust(t, tp.resources[output], "Properties", "BucketName"))
	if in == out {
		t.Errorf("input and output buckets have the same name %s", in)
	}

	// Each bucket blocks public access and refuses requests without TLS.
	tlsOnly := map[string]bool{}
	for _, id := range tp.resourcesOfType("AWS::S3::BucketPolicy") {
		p := tp.resources[id]
		bucket := tplRender(tplMust(t, p, "Properties", "Bucket"))
		stmts, _ := tplMust(t, p, "Properties", "PolicyDocument", "Statement").([]any)
		for _, st := range stmts {
			effect, _ := tplLookup(st, "Effect")
			action, _ := tplLookup(st, "Action")
			cond, _ := tplLookup(st, "Condition", "Bool", "aws:SecureTransport")
			res := tplStrings(tplMust(t, st, "Resource"))
			if effect == "Deny" && action == "s3:*" && fmt.Sprint(cond) == "false" && len(res) == 2 {
				tlsOnly[bucket] = true
			}
		}
	}
	for _, id := range []string{input, output} {
		if !tlsOnly["${"+id+"}"] {
			t.Errorf("%s has no bucket policy denying requests without TLS (aws:SecureTransport false)", id)
		}
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if v, _ := tplLookup(tp.resources[id], "Properties", "PublicAccessBlockConfiguration", k); v != true {
				t.Errorf("%s: PublicAccessBlockConfiguration.%s = %v, want true", id, k, v)
			}
		}
	}
}

func TestTemplateFunctionPolicy(t *testing.T) {
	tp := tplLoad(t)
	id, fn := tp.function(t)
	if _, ok := tplLookup(fn, "Properties", "ManagedPolicyArns"); ok {
		t.Error("the function has ManagedPolicyArns; list what it may do inline")
	}
	inArn, outArn := tp.bucketArns(t)
	outObjects := []string{outArn + "/rejects/*", outArn + "/valid/*"}
	want := map[string][]string{
		"s3:GetObject":                  append([]string{inArn + "/${InputPrefix}*", inArn + "/${SchemaKey}"}, outObjects...),
		"s3:GetObjectVersion":           {inArn + "/${InputPrefix}*", inArn + "/${SchemaKey}"},
		"s3:ListBucket":                 {inArn},
		"s3:PutObject":                  outObjects,
		"s3:AbortMultipartUpload":       outObjects,
		"s3:ListMultipartUploadParts":   outObjects,
		"s3:ListBucketMultipartUploads": {outArn},
		// With a KMS key, and only then (see TestTemplateEncryption).
		"kms:Decrypt":         {"${KmsKeyArn}"},
		"kms:GenerateDataKey": {"${KmsKeyArn}"},
	}
	for a := range want {
		sort.Strings(want[a])
	}
	got := tplStatements(t, id, tplMust(t, fn, "Properties", "Policies"))
	for a, w := range want {
		if !slices.Equal(got[a], w) {
			t.Errorf("%s on %v, want on %v", a, got[a], w)
		}
	}
	for a, r := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("unexpected action %s on %v", a, r)
		}
	}
}

// TestTemplateNoWildcards walks every policy in the template: no action is
// "*" or a whole service ("s3:*"), and no resource is "*". A Deny statement
// may deny broadly, as the buckets' TLS-only statements do.
func TestTemplateNoWildcards(t *testing.T) {
	tp := tplLoad(t)
	actions, resources := 0, 0
	var walk func(path string, v any, deny bool)
	walk = func(path string, v any, deny bool) {
		switch v := v.(type) {
		case map[string]any:
			deny = deny || v["Effect"] == "Deny"
			for k, e := range v {
				p := path + "." + k
				switch k {
				case "Action", "NotAction":
					for _, a := range tplStrings(e) {
						actions++
						if !deny && (a == "*" || strings.HasSuffix(a, ":*")) {
							t.Errorf("%s: wildcard action %q", p, a)
						}
					}
				case "Resource", "NotResource":
					for _, r := range tplStrings(e) {
						resources++
						if r == "*" || strings.HasSuffix(r, ":*") || strings.HasSuffix(r, ":::*") {
							t.Errorf("%s: wildcard resource %q", p, r)
						}
					}
				}
				walk(p, e, deny)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e, deny)
			}
		case string:
			if v == "s3:*" && !deny {
				t.Errorf("%s: %q", path, v)
			}
		}
	}
	walk("Resources", tp.resources, false)
	if actions == 0 || resources == 0 {
		t.Fatalf("found %d actions and %d resources; the walk saw no policy", actions, resources)
	}
}

// TestTemplateEncryption checks the optional KMS key: both buckets encrypt
// with it by default when KmsKeyArn is set, and with S3-managed keys when it
// is empty (the default), and the role may use the key only when it is set.
func TestTemplateEncryption(t *testing.T) {
	tp := tplLoad(t)
	if d := tplMust(t, tp.params, "KmsKeyArn", "Default"); d != "" {
		t.Errorf("KmsKeyArn defaults to %v, want empty", d)
	}
	pattern := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, "KmsKeyArn", "AllowedPattern")))
	for arn, want := range map[string]bool{
		"": true,
		"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab":     true,
		"arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"alias/aws/s3": false,
		"arn:aws:kms:eu-west-1:123456789012:alias/data": false,
	} {
		if got := pattern.MatchString(arn); got != want {
			t.Errorf("KmsKeyArn pattern matches %q: %v, want %v", arn, got, want)
		}
	}
	cond := tplMust(t, tp.root, "Conditions", "HasKmsKey")
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "KmsKeyArn"}, ""}}}}
	if !reflect.DeepEqual(cond, want) {
		t.Errorf("HasKmsKey = %v, want KmsKeyArn not empty", cond)
	}
	ifKey := func(yes, no any) any { return map[string]any{"Fn::If": []any{"HasKmsKey", yes, no}} }
	noValue := map[string]any{"Ref": "AWS::NoValue"}
	input, output := tp.buckets(t)
	for _, id := range []string{input, output} {
		rules, _ := tplMust(t, tp.resources[id], "Properties", "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
		if len(rules) != 1 {
			t.Errorf("%s: %d encryption rules, want 1", id, len(rules))
			continue
		}
		for _, c := range []struct {
			path []string
			want any
		}{
			{[]string{"ServerSideEncryptionByDefault", "SSEAlgorithm"}, ifKey("aws:kms", "AES256")},
			{[]string{"ServerSideEncryptionByDefault", "KMSMasterKeyID"}, ifKey(map[string]any{"Ref": "KmsKeyArn"}, noValue)},
			{[]string{"BucketKeyEnabled"}, ifKey(true, noValue)},
		} {
			if got, _ := tplLookup(rules[0], c.path...); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: %s = %v, want %v", id, strings.Join(c.path, "."), got, c.want)
			}
		}
	}
	// The statement granting the key stands only under HasKmsKey.
	_, fn := tp.function(t)
	found := 0
	for _, p := range tplMust(t, fn, "Properties", "Policies").([]any) {
		stmts, _ := tplLookup(p, "Statement")
		list, _ := stmts.([]any)
		for _, st := range list {
			acts, _ := tplLookup(tplIfTrue(st), "Action")
			if !strings.Contains(fmt.Sprint(acts), "kms:") {
				continue
			}
			found++
			args, _ := tplLookup(st, "Fn::If")
			if l, _ := args.([]any); len(l) != 3 || l[0] != "HasKmsKey" || !reflect.DeepEqual(l[2], noValue) {
				t.Errorf("the statement granting %v does not stand under !If [HasKmsKey, ..., !Ref AWS::NoValue]", acts)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d statements grant KMS actions, want 1", found)
	}
}

// TestTemplateLogs checks that the function logs to a log group of the
// stack's own, kept for LogRetentionInDays, not forever.
func TestTemplateLogs(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	group := tplRender(tplMust(t, fn, "Properties", "LoggingConfig", "LogGroup"))
	id := strings.TrimSuffix(strings.TrimPrefix(group, "${"), "}")
	if typ, _ := tplLookup(tp.resources[id], "Type"); typ != "AWS::Logs::LogGroup" {
		t.Fatalf("LoggingConfig.LogGroup = %s, want a !Ref to an AWS::Logs::LogGroup of the template", group)
	}
	if got := tplRender(tplMust(t, tp.resources[id], "Properties", "RetentionInDays")); got != "${LogRetentionInDays}" {
		t.Errorf("%s: RetentionInDays = %s, want ${LogRetentionInDays}", id, got)
	}
	d := tplMust(t, tp.params, "LogRetentionInDays", "Default")
	allowed, _ := tplMust(t, tp.params, "LogRetentionInDays", "AllowedValues").([]any)
	if !slices.Contains(allowed, d) {
		t.Errorf("LogRetentionInDays default %v is not among its AllowedValues %v", d, allowed)
	}
}

func TestTemplateOnFailureDestination(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	cfg := tplMust(t, fn, "Properties", "EventInvokeConfig")
	if typ := tplMust(t, cfg, "DestinationConfig", "OnFailure", "Type"); typ != "SQS" {
		t.Errorf("OnFailure Type = %v, want SQS", typ)
	}
	dest := tplRender(tplMust(t, cfg, "DestinationConfig", "OnFailure", "Destination"))
	queues := tp.resourcesOfType("AWS::SQS::Queue")
	if len(queues) != 1 || dest != "${"+queues[0]+".Arn}" {
		t.Errorf("OnFailure Destination = %s, want !GetAtt of the template's queue %v", dest, queues)
	}
	retries := tp.paramDefault(tplMust(t, cfg, "MaximumRetryAttempts"))
	if n, ok := retries.(int); !ok || n < 0 || n > 2 {
		t.Errorf("MaximumRetryAttempts = %v, want 0 to 2", retries)
	}
}

func TestTemplateSweepSchedule(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	_, output := tp.buckets(t)
	events := tplMust(t, fn, "Properties", "Events").(map[string]any)
	var sched []any
	for _, e := range events {
		if typ, _ := tplLookup(e, "Type"); typ == "Schedule" || typ == "ScheduleV2" {
			sched = append(sched, e)
		}
	}
	if len(sched) != 1 {
		t.Fatalf("%d schedule events, want 1", len(sched))
	}
	expr := fmt.Sprint(tp.paramDefault(tplMust(t, sched[0], "Properties", "Schedule")))
	if !strings.HasPrefix(expr, "rate(") && !strings.HasPrefix(expr, "cron(") {
		t.Errorf("Schedule = %q, want rate(...) or cron(...)", expr)
	}
	// Fill in the !Sub variables: parameters with their defaults, the
	// output bucket with a sample name.
	input := tplSubVar.ReplaceAllStringFunc(tplRender(tplMust(t, sched[0], "Properties", "Input")), func(s string) string {
		name := s[2 : len(s)-1]
		if name == output {
			return "example-output"
		}
		if d, ok := tplLookup(tp.params, name, "Default"); ok {
			return fmt.Sprint(d)
		}
		t.Errorf("Input refers to %s, which has no sample value", s)
		return s
	})
	var payload struct {
		Sweep *struct {
			Prefixes  []string `json:"prefixes"`
			OlderThan string   `json:"older_than"`
			DryRun    *bool    `json:"dry_run"`
		} `json:"sweep"`
	}
	dec := json.NewDecoder(strings.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&payload); err != nil {
		t.Fatalf("schedule Input %s: %v", input, err)
	}
	if payload.Sweep == nil {
		t.Fatalf("schedule Input %s has no sweep", input)
	}
	want := []string{"s3://example-output/rejects/", "s3://example-output/valid/"}
	got := slices.Sorted(slices.Values(payload.Sweep.Prefixes))
	if !slices.Equal(got, want) {
		t.Errorf("sweep prefixes %v, want %v", got, want)
	}
	if d, err := time.ParseDuration(payload.Sweep.OlderThan); err != nil || d < MinSweepAge {
		t.Errorf("sweep older_than %q: want a duration of at least %v (%v)", payload.Sweep.OlderThan, MinSweepAge, err)
	}
	// The parameter's pattern lets through only ages the function accepts.
	pattern := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, "SweepOlderThan", "AllowedPattern")))
	for _, tt := range []struct {
		age string
		ok  bool
	}{{"24h", true}, {"1h", true}, {"30m", true}, {"90m", true}, {"120m", true}, {"0h", false}, {"29m", false}, {"5m", false}, {"3600s", false},
		{"999999h", true}, {"99999999m", true}, {"2562048h", false}, {"1000000h", false}, {"100000000m", false}} {
		if pattern.MatchString(tt.age) != tt.ok {
			t.Errorf("SweepOlderThan pattern matches %q: %v, want %v", tt.age, !tt.ok, tt.ok)
		}
		if _, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://o/", EnvSweepOlderThan: tt.age})); tt.ok && err != nil {
			t.Errorf("SweepOlderThan %q passes the template but not the function: %v", tt.age, err)
		}
	}
	if payload.Sweep.DryRun == nil || *payload.Sweep.DryRun {
		t.Errorf("sweep dry_run = %v, want false", payload.Sweep.DryRun)
	}
}

func TestTemplateStateMachine(t *testing.T) {
	tp := tplLoad(t)
	fnID, _ := tp.function(t)
	id, sm := tp.only(t, "AWS::Serverless::StateMachine")

	got := tplStatements(t, id, tplMust(t, sm, "Properties", "Policies"))
	want := map[string][]string{"lambda:InvokeFunction": {"${" + fnID + ".Arn}"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("state machine may %v, want only %v", got, want)
	}

	subs, _ := tplLookup(sm, "Properties", "DefinitionSubstitutions")
	expand := func(s string) string {
		return tplSubVar.ReplaceAllStringFunc(s, func(v string) string {
			if r, ok := tplLookup(subs, v[2:len(v)-1]); ok {
				return tplRender(r)
			}
			return v
		})
	}
	def := tplMust(t, sm, "Properties", "Definition")
	states, _ := tplMust(t, def, "States").(map[string]any)
	start := fmt.Sprint(tplMust(t, def, "StartAt"))
	task, ok := states[start]
	if !ok {
		t.Fatalf("StartAt %q is not a state", start)
	}
	if typ, _ := tplLookup(task, "Type"); typ != "Task" {
		t.Fatalf("state %s has Type %v, want Task", start, typ)
	}
	if r := expand(fmt.Sprint(tplMust(t, task, "Resource"))); !strings.HasSuffix(r, ":states:::lambda:invoke") {
		t.Errorf("task Resource = %s, want the lambda:invoke integration", r)
	}
	if f := expand(fmt.Sprint(tplMust(t, task, "Parameters", "FunctionName"))); f != "${"+fnID+".Arn}" {
		t.Errorf("task FunctionName = %s, want the function's ARN", f)
	}

	// Every Next names a state, and every state but Succeed and Fail ends
	// or goes on.
	for name, s := range states {
		typ, _ := tplLookup(s, "Type")
		next, hasNext := tplLookup(s, "Next")
		end, _ := tplLookup(s, "End")
		if hasNext {
			if _, ok := states[fmt.Sprint(next)]; !ok {
				t.Errorf("state %s: Next %v is not a state", name, next)
			}
		} else if typ != "Succeed" && typ != "Fail" && end != true {
			t.Errorf("state %s (%v) neither ends nor has a Next", name, typ)
		}
	}

	retriers, _ := tplMust(t, task, "Retry").([]any)
	retried := make(map[string]bool)
	for _, r := range retriers {
		for _, e := range tplStrings(tplMust(t, r, "ErrorEquals")) {
			retried[e] = true
		}
	}
	for _, e := range tplTransientLambdaErrors() {
		if !retried[e] {
			t.Errorf("task does not retry %s", e)
		}
	}
	// A throttled invoke waits for a slot, which a running job frees at
	// the latest when the function's longest Timeout passes: the retrier
	// must wait that long on average, with its jitter.
	longest := tplNumber(t, tp.params, 0, "Timeout", "MaxValue")
	for _, r := range retriers {
		if !slices.Contains(tplStrings(tplMust(t, r, "ErrorEquals")), "Lambda.TooManyRequestsException") {
			continue
		}
		wait := retryWait(t, r)
		if j, _ := tplLookup(r, "JitterStrategy"); j == "FULL" {
			wait /= 2 // each wait is drawn from [0, its bound]
		}
		if wait < longest {
			t.Errorf("a throttled execution gives up after about %.0f s of waits, but a job may hold its slot %.0f s", wait, longest)
		}
	}
	for _, e := range tplDeterministicErrors() {
		if retried[e] {
			t.Errorf("task retries %s, which fails the same way every time", e)
		}
	}

	catchers, _ := tplMust(t, task, "Catch").([]any)
	caughtBy := make(map[string]string)
	for i, c := range catchers {
		next := fmt.Sprint(tplMust(t, c, "Next"))
		for _, e := range tplStrings(tplMust(t, c, "ErrorEquals")) {
			if e == "States.ALL" && i != len(catchers)-1 {
				t.Errorf("Catch[%d] names States.ALL but is not the last catcher", i)
			}
			if _, dup := caughtBy[e]; !dup {
				caughtBy[e] = next
			}
		}
	}
	for _, e := range tplTypedErrors() {
		t.Run("Catch/"+e, func(t *testing.T) {
			next, ok := caughtBy[e]
			if !ok {
				t.Fatalf("task has no catcher naming %s", e)
			}
			// A Pass would end the execution as a success: the input of
			// a state machine names its object, so even SourceNotFound
			// (a deleted object, or a name mistyped) is a failure.
			typ, _ := tplLookup(states[next], "Type")
			if typ != "Fail" {
				t.Errorf("%s leads to %s of Type %v, want a Fail state", e, next, typ)
			}
		})
	}
}

// TestTemplateKeyFilterPatterns checks that the input prefix and suffix
// take only characters that URL encoding leaves alone: S3 matches its
// notification filter against the encoded key, so "daily orders/" would
// deploy and never fire.
func TestTemplateKeyFilterPatterns(t *testing.T) {
	tp := tplLoad(t)
	for _, tc := range []struct {
		param string
		ok    []string
		bad   []string
	}{
		{"InputPrefix", []string{"incoming/", "data/in/", "a.b_c-d~/"},
			[]string{"incoming", "/", "a//", "daily orders/", "dt=2024/", "in*/", "café/"}},
		{"InputSuffix", []string{".csv", ".CSV", "_orders.csv"},
			[]string{"", ".csv ", "x/y.csv", "*.csv", "+.csv"}},
	} {
		pattern := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, tc.param, "AllowedPattern")))
		for _, v := range tc.ok {
			if !pattern.MatchString(v) {
				t.Errorf("%s refuses %q", tc.param, v)
			}
		}
		for _, v := range tc.bad {
			if pattern.MatchString(v) {
				t.Errorf("%s accepts %q", tc.param, v)
			}
		}
	}
}

// TestTemplateSchemaKeyPattern checks that every SchemaKey the template
// takes names, in the role's policy, exactly the object the function reads:
// the key goes into an IAM resource, where * and ? are wildcards and ${...}
// a variable, and into
// CSVSTREAM_SCHEMA, which the function reads with spaces trimmed.
func TestTemplateSchemaKeyPattern(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	env := tplRender(tplMust(t, fn, "Properties", "Environment", "Variables", EnvSchema))
	input, _ := tp.buckets(t)
	bucketName := tplRender(tplMust(t, tp.resources[input], "Properties", "BucketName"))
	if want := "s3://" + bucketName + "/${SchemaKey}"; env != want {
		t.Fatalf("%s = %s, want %s", EnvSchema, env, want)
	}
	pattern := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, "SchemaKey", "AllowedPattern")))
	if d := fmt.Sprint(tplMust(t, tp.params, "SchemaKey", "Default")); !pattern.MatchString(d) {
		t.Errorf("SchemaKey default %q does not match its own pattern", d)
	}
	for _, tt := range []struct {
		key string
		ok  bool
	}{
		{"schemas/orders.schema.json", true},
		{"orders.json", true},
		{"schemas/daily orders.json", true},
		{" leading space.json", true},
		{"", false},
		{"schemas/", false},
		{"schemas/*", false},                    // every schema under schemas/, and more
		{"*.json", false},                       // every .json object in the bucket
		{"s*", false},                           // every key that begins with s
		{"orders?.json", false},                 // ? matches any one character
		{"schemas/${aws:username}.json", false}, // a policy variable
		{"schemas/$orders.json", false},
		{"schemas/orders.schema.json ", false},
		{"schemas/orders.schema.json\t", false},
		{"schemas/orders.schema.json\u00a0", false}, // a no-break space, from a copied name
		{"schemas/données.json", true},
	} {
		if got := pattern.MatchString(tt.key); got != tt.ok {
			t.Errorf("SchemaKey %q: allowed %v, want %v", tt.key, got, tt.ok)
		}
		if !pattern.MatchString(tt.key) {
			continue
		}
		cfg, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://o/", EnvSchema: "s3://in/" + tt.key}))
		if err != nil {
			t.Errorf("SchemaKey %q passes the template but fails the function's start-up: %v", tt.key, err)
		} else if cfg.SchemaLocation.Key != tt.key {
			t.Errorf("SchemaKey %q: the function reads %q, which the role's policy does not name", tt.key, cfg.SchemaLocation.Key)
		}
	}
	// The function trims every space Unicode has.
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !unicode.IsSpace(r) {
			continue
		}
		if key := "schemas/orders.json" + string(r); pattern.MatchString(key) {
			t.Errorf("SchemaKey %q, ending in %U, which the function trims, is allowed", key, r)
		}
	}
}

// TestTemplateInputPrefixRule checks that the template's rule refuses
// exactly the InputPrefix values under which the function's outputs lie,
// which the function would refuse at start.
func TestTemplateInputPrefixRule(t *testing.T) {
	tp := tplLoad(t)
	_, fn := tp.function(t)
	vars := tplMust(t, fn, "Properties", "Environment", "Variables")
	assertion := tplMust(t, tp.root, "Rules", "InputPrefixOutsideOutputs", "Assertions").([]any)[0]
	contains := tplMust(t, assertion, "Assert", "Fn::Not").([]any)[0]
	args := tplMust(t, contains, "Fn::Contains").([]any)
	if got := tplRender(args[1]); got != "${InputPrefix}" {
		t.Fatalf("the rule tests %s, want InputPrefix", got)
	}
	refused := tplStrings(args[0])
	var outputs []string
	for _, env := range []string{EnvOutput, EnvRejects} {
		_, p, _ := strings.Cut(strings.TrimPrefix(tplRender(tplMust(t, vars, env)), "s3://"), "/")
		outputs = append(outputs, p)
	}
	pattern := regexp.MustCompile(fmt.Sprint(tplMust(t, tp.params, "InputPrefix", "AllowedPattern")))
	env := map[string]string{EnvOutput: "s3://out/" + outputs[0], EnvRejects: "s3://out/" + outputs[1]}
	// Every value the pattern allows that is a folder above an output.
	var want []string
	for _, out := range outputs {
		for i := range len(out) {
			if out[i] == '/' && pattern.MatchString(out[:i+1]) {
				want = append(want, out[:i+1])
			}
		}
	}
	if !slices.Equal(refused, want) {
		t.Errorf("the rule refuses %v, want %v", refused, want)
	}
	for _, prefix := range append(want, fmt.Sprint(tplMust(t, tp.params, "InputPrefix", "Default")), "valid/x/", "rejected/") {
		env[EnvInputPrefix] = prefix
		_, err := ConfigFromEnv(envFunc(env))
		if refuse := slices.Contains(refused, prefix); refuse != (err != nil) {
			t.Errorf("InputPrefix %q: the rule refuses it: %v; the function's start: %v", prefix, refuse, err)
		}
	}
}

// TestEventFilesMatchTemplate checks the sample events parse and that the
// object-created ones name a key the template's S3 filter would pass.
func TestEventFilesMatchTemplate(t *testing.T) {
	tp := tplLoad(t)
	prefix := fmt.Sprint(tplMust(t, tp.params, "InputPrefix", "Default"))
	suffix := fmt.Sprint(tplMust(t, tp.params, "InputSuffix", "Default"))
	const bucket = "csvstream-demo-input"

	type s3Notification struct {
		Records []struct {
			EventVersion string `json:"eventVersion"`
			EventSource  string `json:"eventSource"`
			S3           struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	// keys returns the decoded (bucket, key) pairs of an S3 notification.
	keys := func(t *testing.T, b []byte) [][2]string {
		var n s3Notification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		var out [][2]string
		for _, r := range n.Records {
			if r.EventSource != "aws:s3" || r.EventVersion != "2.1" {
				t.Errorf("record eventSource %q eventVersion %q, want aws:s3 2.1", r.EventSource, r.EventVersion)
			}
			k, err := url.QueryUnescape(r.S3.Object.Key)
			if err != nil {
				t.Errorf("key %q is not URL-encoded: %v", r.S3.Object.Key, err)
			}
			out = append(out, [2]string{r.S3.Bucket.Name, k})
		}
		return out
	}
	tests := []struct {
		file string
		keys func(t *testing.T, b []byte) [][2]string
	}{
		{"s3-put.json", keys},
		{"eventbridge.json", func(t *testing.T, b []byte) [][2]string {
			var e struct {
				Source     string `json:"source"`
				DetailType string `json:"detail-type"`
				Detail     struct {
					Bucket struct{ Name string } `json:"bucket"`
					Object struct{ Key string }  `json:"object"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			if e.Source != "aws.s3" || e.DetailType != "Object Created" {
				t.Errorf("source %q detail-type %q, want aws.s3 Object Created", e.Source, e.DetailType)
			}
			return [][2]string{{e.Detail.Bucket.Name, e.Detail.Object.Key}}
		}},
		{"sqs.json", func(t *testing.T, b []byte) [][2]string {
			var e struct {
				Records []struct {
					EventSource string `json:"eventSource"`
					Body        string `json:"body"`
				} `json:"Records"`
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			if len(e.Records) != 2 {
				t.Errorf("%d messages, want 2", len(e.Records))
			}
			var out [][2]string
			for _, r := range e.Records {
				if r.EventSource != "aws:sqs" {
					t.Errorf("eventSource %q, want aws:sqs", r.EventSource)
				}
				out = append(out, keys(t, []byte(r.Body))...)
			}
			return out
		}},
		{"manual.json", tplDirectKeys},
		{"stepfunctions.json", tplDirectKeys},
		{"failure-record.json", func(t *testing.T, b []byte) [][2]string {
			var r struct {
				RequestContext struct {
					Condition string `json:"condition"`
				} `json:"requestContext"`
				RequestPayload json.RawMessage `json:"requestPayload"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.RequestContext.Condition != "RetriesExhausted" {
				t.Errorf("condition %q, want RetriesExhausted", r.RequestContext.Condition)
			}
			return keys(t, r.RequestPayload)
		}},
	}
	covered := []string{"s3-test-event.json", "sweep.json"} // checked below
	for _, tt := range tests {
		covered = append(covered, tt.file)
	}
	checkEventFilesCovered(t, covered)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := tt.keys(t, b)
			if len(got) == 0 {
				t.Fatal("no objects in the event")
			}
			for _, bk := range got {
				if bk[0] != bucket {
					t.Errorf("bucket %q, want %q", bk[0], bucket)
				}
				if !strings.HasPrefix(bk[1], prefix) || !strings.HasSuffix(bk[1], suffix) {
					t.Errorf("key %q does not match the S3 filter %s*%s", bk[1], prefix, suffix)
				}
			}
		})
	}
	t.Run("s3-put.json key", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "events", "s3-put.json"))
		if err != nil {
			t.Fatal(err)
		}
		got := keys(t, b)
		if want := "incoming/daily orders café.csv"; len(got) != 1 || got[0][1] != want {
			t.Errorf("decoded keys %v, want one: %q", got, want)
		}
	})
	for _, f := range []string{"s3-test-event.json", "sweep.json"} {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "events", f))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			switch f {
			case "s3-test-event.json":
				if m["Event"] != "s3:TestEvent" || m["Bucket"] != bucket {
					t.Errorf("Event %v Bucket %v, want s3:TestEvent %s", m["Event"], m["Bucket"], bucket)
				}
			case "sweep.json":
				if m["detail-type"] != "Scheduled Event" || m["source"] != "aws.events" {
					t.Errorf("detail-type %v source %v, want Scheduled Event from aws.events", m["detail-type"], m["source"])
				}
			}
		})
	}
}

// checkEventFilesCovered reports a sample event (a .json file) in events/
// that a test's table leaves out, or names that are not there: a new
// sample would otherwise be published unchecked.
func checkEventFilesCovered(t *testing.T, covered []string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "events", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("list the sample events: %d found (%v)", len(paths), err)
	}
	var files []string
	for _, p := range paths {
		files = append(files, filepath.Base(p))
	}
	covered = slices.Sorted(slices.Values(covered))
	if !slices.Equal(files, covered) {
		t.Errorf("events/ holds %v, the test covers %v", files, covered)
	}
}

// tplDirectKeys returns the bucket and key of a direct payload.
func tplDirectKeys(t *testing.T, b []byte) [][2]string {
	var p struct {
		Bucket string `json:"bucket"`
		Key    string `json:"key"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return [][2]string{{p.Bucket, p.Key}}
}

// TestTemplateGrantsEveryS3Call ties the role's policy to the code: every
// method of the S3 client interfaces a job and a sweep use must map to the
// IAM actions S3 checks for it, and the template must grant them where the
// function calls them. A new S3 call, or a permission taken out of the
// template, is an AccessDenied that versitygw (no IAM) never shows.
func TestTemplateGrantsEveryS3Call(t *testing.T) {
	tp := tplLoad(t)
	id, fn := tp.function(t)
	inArn, outArn := tp.bucketArns(t)
	sources := []string{inArn + "/${InputPrefix}*", inArn + "/${SchemaKey}"}
	outputs := []string{outArn + "/valid/*", outArn + "/rejects/*"}
	type grant struct {
		actions   []string
		resources []string
	}
	// What S3 authorizes each call as (Amazon S3 "Actions, resources, and
	// condition keys"), on the places the function makes it.
	need := map[string]grant{
		// Sources and the schema; with a direct payload's version_id
		// (every ranged and resumed GET carries it) GetObjectVersion.
		"GetObject": {[]string{"s3:GetObject", "s3:GetObjectVersion"}, sources},
		// Outputs.
		"PutObject":               {[]string{"s3:PutObject"}, outputs},
		"CreateMultipartUpload":   {[]string{"s3:PutObject"}, outputs},
		"UploadPart":              {[]string{"s3:PutObject"}, outputs},
		"CompleteMultipartUpload": {[]string{"s3:PutObject"}, outputs},
		"AbortMultipartUpload":    {[]string{"s3:AbortMultipartUpload"}, outputs},
		"ListParts":               {[]string{"s3:ListMultipartUploadParts"}, outputs},
		"HeadObject":              {[]string{"s3:GetObject"}, outputs},
		// The sweep, on the output bucket.
		"ListMultipartUploads": {[]string{"s3:ListBucketMultipartUploads"}, []string{outArn}},
	}
	got := tplStatements(t, id, tplMust(t, fn, "Properties", "Policies"))
	for _, it := range []reflect.Type{reflect.TypeFor[csvstream.S3API](), reflect.TypeFor[csvstream.SweepAPI]()} {
		for i := range it.NumMethod() {
			m := it.Method(i).Name
			g, ok := need[m]
			if !ok {
				t.Errorf("%s.%s: no IAM action mapped for this S3 call; add it here and grant it in template.yaml", it.Name(), m)
				continue
			}
			for _, a := range g.actions {
				for _, r := range g.resources {
					if !slices.Contains(got[a], r) {
						t.Errorf("%s.%s needs %s on %s; the template grants it on %v", it.Name(), m, a, r, got[a])
					}
				}
			}
		}
	}
}
