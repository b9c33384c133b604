package pattern

import "strings"

// decimal is an exact JSON number: 0.digits × 10^exp. Converting to float64
// would make distinct numbers equal beyond 17 significant digits and make
// 0.1+0.2-style representations leak into matching; a normalized decimal
// makes 300, 300.0 and 3.0e2 the same value and compares any two numbers
// exactly.
type decimal struct {
	neg bool
	// digits has no leading or trailing zeros; "" is zero.
	digits string
	exp    int64
}

// expLimit bounds exponents so that arithmetic on them cannot overflow.
// Numbers beyond 10^±expLimit still order correctly against ordinary
// numbers; they only lose exactness against each other.
const expLimit = 1 << 40

// parseDecimal parses a JSON number. ok is false when s is not one.
func parseDecimal(s string) (d decimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	if i < len(s) && s[i] == '0' {
		i++
	} else {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	intPart := s[intStart:i]
	if intPart == "" {
		return decimal{}, false
	}
	var fracPart string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracPart = s[fs:i]
		if fracPart == "" {
			return decimal{}, false
		}
	}
	var e int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			if e < expLimit {
				e = e*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == es {
			return decimal{}, false
		}
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return decimal{}, false
	}

	exp := int64(len(intPart))
	var digits string
	if fracPart == "" {
		digits = intPart
	} else {
		digits = intPart + fracPart
	}
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	exp -= int64(lead)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return decimal{}, true // zero, and -0 is zero
	}
	d.digits = digits
	d.exp = clampExp(exp + e)
	return d, true
}

func clampExp(e int64) int64 {
	if e > expLimit {
		return expLimit
	}
	if e < -expLimit {
		return -expLimit
	}
	return e
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (d decimal) isZero() bool { return d.digits == "" }

// cmp returns -1, 0 or +1 as d is less than, equal to or greater than o.
func (d decimal) cmp(o decimal) int {
	switch {
	case d.isZero() && o.isZero():
		return 0
	case d.isZero():
		if o.neg {
			return 1
		}
		return -1
	case o.isZero():
		if d.neg {
			return -1
		}
		return 1
	case d.neg != o.neg:
		if d.neg {
			return -1
		}
		return 1
	}
	c := d.cmpMagnitude(o)
	if d.neg {
		return -c
	}
	return c
}

// cmpMagnitude compares |d| and |o|, both non-zero. With the leading digit
// nonzero the exponent decides first; then digit strings compare as
// fractions, which plain string comparison does because neither has
// trailing zeros.
func (d decimal) cmpMagnitude(o decimal) int {
	switch {
	case d.exp < o.exp:
		return -1
	case d.exp > o.exp:
		return 1
	}
	return strings.Compare(d.digits, o.digits)
}

func (d decimal) equal(o decimal) bool {
	return d.neg == o.neg && d.exp == o.exp && d.digits == o.digits
}

// numKey is a map key naming one numeric value.
type numKey struct {
	neg    bool
	digits string
	exp    int64
}

func (d decimal) key() numKey { return numKey(d) }

// Numeric operands are limited to AWS's documented range so that a pattern
// accepted here is one EventBridge accepts.
var (
	numericMax = decimal{digits: "5", exp: 10}
	numericMin = decimal{neg: true, digits: "5", exp: 10}
)
