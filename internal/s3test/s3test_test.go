package s3test

import (
	"bytes"
	"testing"
)

func TestServerRoundTrip(t *testing.T) {
	s := Start(t)
	b := s.Bucket(t, "roundtrip")
	want := []byte("id,name\n1,a\n")
	s.Put(t, b, "dir/x y.csv", want)
	if got := s.Get(t, b, "dir/x y.csv"); !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := len(s.Uploads(t, b)); n != 0 {
		t.Fatalf("uploads in progress: %d", n)
	}
}
