package ctxio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReader checks that a reader passes data and errors through in reads
// of any size, and returns once its context ends.
func TestReader(t *testing.T) {
	data := strings.Repeat("0123456789", 10000)
	for _, size := range []int{1, 7, 4096, 1 << 20} {
		r := NewReader(context.Background(), strings.NewReader(data))
		var got []byte
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != data {
			t.Errorf("reads of %d: got %d bytes, want %d", size, len(got), len(data))
		}
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r := NewReader(ctx, pr)
	cancel()
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel = %v, want context.Canceled", err)
	}
}
