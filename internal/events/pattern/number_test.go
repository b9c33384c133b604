package pattern

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in     string
		neg    bool
		digits string
		exp    int64
	}{
		{"0", false, "", 0},
		{"-0", false, "", 0},
		{"0.000", false, "", 0},
		{"0e99", false, "", 0},
		{"300", false, "3", 3},
		{"3.0e2", false, "3", 3},
		{"300.000", false, "3", 3},
		{"30e1", false, "3", 3},
		{"0.0012", false, "12", -2},
		{"7.5", false, "75", 1},
		{"-12.5", true, "125", 2},
		{"1E-7", false, "1", -6},
		{"1e+3", false, "1", 4},
		{"123456789012345678901234567890", false, "12345678901234567890123456789", 30},
	} {
		d, ok := parseDecimal(tc.in)
		if !ok || d.neg != tc.neg || d.digits != tc.digits || d.exp != tc.exp {
			t.Errorf("parseDecimal(%q) = %+v, %v; want {%v %q %d}", tc.in, d, ok, tc.neg, tc.digits, tc.exp)
		}
	}
	for _, in := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x10", "1.5.2", "NaN", "Infinity", " 1", "1 "} {
		if d, ok := parseDecimal(in); ok {
			t.Errorf("parseDecimal(%q) = %+v, want not ok", in, d)
		}
	}
}

func TestParseDecimalHugeExponent(t *testing.T) {
	big, ok := parseDecimal("1e99999999999999999999999")
	if !ok {
		t.Fatal("not ok")
	}
	one, _ := parseDecimal("1")
	if big.cmp(one) <= 0 {
		t.Error("1e999... is not greater than 1")
	}
	tiny, _ := parseDecimal("1e-99999999999999999999999")
	if tiny.cmp(one) >= 0 || tiny.isZero() {
		t.Error("1e-999... is not a positive number below 1")
	}
}

// TestDecimalCmp checks ordering against math/big on random numbers in many
// notations, including equal values written differently.
func TestDecimalCmp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		mant := strconv.FormatInt(r.Int64N(2000)-1000, 10)
		if r.IntN(2) == 0 {
			mant += "." + strconv.Itoa(r.IntN(1000))
		}
		if r.IntN(2) == 0 {
			mant += "e" + strconv.Itoa(r.IntN(9)-4)
		}
		return mant
	}
	for range 20000 {
		a, b := gen(), gen()
		da, ok1 := parseDecimal(a)
		db, ok2 := parseDecimal(b)
		ra, ok3 := new(big.Rat).SetString(a)
		rb, ok4 := new(big.Rat).SetString(b)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			t.Fatalf("parse %q %q: %v %v %v %v", a, b, ok1, ok2, ok3, ok4)
		}
		if got, want := da.cmp(db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d, want %d", a, b, got, want)
		}
		if got, want := da.equal(db), ra.Cmp(rb) == 0; got != want {
			t.Fatalf("equal(%s, %s) = %v, want %v", a, b, got, want)
		}
	}
}
