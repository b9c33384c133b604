package vulndb

import (
	"errors"
	"fmt"
	"testing"
)

// TestReadAheadOrderAndStop: records reach store in the order read emits
// them, and a store error ends the read early and is what is returned.
func TestReadAheadOrderAndStop(t *testing.T) {
	var got []int
	err := readAhead(func(emit func(int) error) error {
		for i := 0; i < 1000; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	}, func(i int) error {
		got = append(got, i)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("record %d stored as %d-th", v, i)
		}
	}
	if len(got) != 1000 {
		t.Fatalf("%d records stored, want 1000", len(got))
	}

	full := errors.New("disk full")
	emitted := 0
	var readErr error
	err = readAhead(func(emit func(int) error) error {
		for i := 0; i < 1_000_000; i++ {
			if readErr = emit(i); readErr != nil {
				return readErr
			}
			emitted++
		}
		return nil
	}, func(i int) error {
		if i == 10 {
			return full
		}
		return nil
	})
	if !errors.Is(err, full) {
		t.Fatalf("error %v, want the store's", err)
	}
	if emitted > 10+readAheadRecords+2 || readErr == nil {
		t.Fatalf("the read went on to %d records after the store failed at 10 (its emit said %v)", emitted, readErr)
	}

	bad := fmt.Errorf("truncated feed")
	stored := 0
	err = readAhead(func(emit func(int) error) error {
		for i := 0; i < 5; i++ {
			emit(i)
		}
		return bad
	}, func(int) error { stored++; return nil })
	if err != bad || stored != 5 {
		t.Fatalf("read error %v after %d records stored, want %v after 5", err, stored, bad)
	}
}
