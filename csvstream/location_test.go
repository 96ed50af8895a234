package csvstream

import "testing"

// TestParseLocationRefusesHalfS3: an s3:// location needs a bucket and a
// key, and the zero Location has no name to add a suffix to.
func TestParseLocationRefusesHalfS3(t *testing.T) {
	for _, s := range []string{"s3://b", "s3://b/", "s3:///k", "s3://"} {
		if l, err := ParseLocation(s); err == nil {
			t.Errorf("ParseLocation(%q) = %+v, want an error", s, l)
		}
	}
	if l, err := (Location{}).WithSuffix(RejectsSuffix); err == nil {
		t.Errorf("WithSuffix of the zero Location = %+v, want an error", l)
	}
}
