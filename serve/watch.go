package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// Watch calls onChange each time the content of the file at path changes,
// checking every interval, until ctx is done. Comparing content rather
// than modification times catches editors that keep the time and ignores
// a touch. A file that cannot be read is not a change: the next readable
// version is compared with the last one seen.
func Watch(ctx context.Context, path string, interval time.Duration, onChange func()) {
	if interval <= 0 {
		return
	}
	last := fileHash(path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := fileHash(path)
		if h == nil || bytes.Equal(h, last) {
			continue
		}
		last = h
		onChange()
	}
}

func fileHash(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(data)
	return sum[:]
}
