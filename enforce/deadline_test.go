package enforce

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadline(t *testing.T) {
	// Ends at the deadline, once something waits.
	ctx, cancel := withLazyDeadline(context.Background(), time.Now().Add(50*time.Millisecond))
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err %v, want DeadlineExceeded", ctx.Err())
	}
	cancel()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("cancel after the deadline changed Err to %v", ctx.Err())
	}

	// Reports the deadline without a waiter, and Done is then closed.
	ctx, cancel = withLazyDeadline(context.Background(), time.Now().Add(-time.Second))
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("past deadline: Err %v", ctx.Err())
	}
	<-ctx.Done()
	cancel()

	// Follows its parent, before and after Done is armed.
	for _, armFirst := range []bool{false, true} {
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel = withLazyDeadline(parent, time.Now().Add(time.Hour))
		if armFirst {
			ctx.Done()
		}
		cancelParent()
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
			t.Fatalf("armFirst %v: parent's cancellation not seen", armFirst)
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("armFirst %v: Err %v", armFirst, ctx.Err())
		}
		cancel()
	}

	// Cancel ends it; the deadline is the earlier of its own and the
	// parent's.
	parent, cancelParent := context.WithTimeout(context.Background(), time.Minute)
	defer cancelParent()
	ctx, cancel = withLazyDeadline(parent, time.Now().Add(time.Hour))
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 2*time.Minute {
		t.Errorf("Deadline %v %v", d, ok)
	}
	cancel()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after cancel: %v", ctx.Err())
	}
}
