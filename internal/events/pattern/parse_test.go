package pattern

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileInvalid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pattern  string
		path     string
		operator string
		msg      string // a substring of the message
	}{
		// Structure.
		{"not JSON", `{"a":`, "", "", "invalid JSON"},
		{"trailing garbage", `{"a":["x"]} x`, "", "", "invalid JSON"},
		{"array pattern", `[{"a":["x"]}]`, "", "", "must be a JSON object"},
		{"string pattern", `"a"`, "", "", "must be a JSON object"},
		{"null pattern", `null`, "", "", "must be a JSON object"},
		{"string leaf", `{"source":"aws.ec2"}`, "source", "", "must be an array"},
		{"number leaf", `{"detail":{"count":5}}`, "detail.count", "", "must be an array"},
		{"boolean leaf", `{"detail":{"x":{"y":true}}}`, "detail.x.y", "", "must be an array"},
		{"null leaf", `{"a":null}`, "a", "", "must be an array"},
		{"empty array", `{"detail":{"severity":[]}}`, "detail.severity", "", "empty array"},
		{"nested array", `{"a":[["x"]]}`, "a", "", "arrays inside"},
		{"empty nested object", `{"detail":{}}`, "detail", "", "empty object"},
		{"duplicate key", `{"a":["x"],"a":["y"]}`, "a", "", "duplicate key"},
		{"empty operator object", `{"a":[{}]}`, "a", "", "exactly one key"},
		{"two operators in one object", `{"a":[{"prefix":"x","suffix":"y"}]}`, "a", "", "exactly one key"},
		{"unknown operator", `{"detail":{"x":[{"contains":"y"}]}}`, "detail.x", "contains", "unknown operator"},
		{"operator names are case sensitive", `{"a":[{"Prefix":"x"}]}`, "a", "Prefix", "unknown operator"},

		// prefix, suffix, equals-ignore-case.
		{"prefix number", `{"a":[{"prefix":1}]}`, "a", "prefix", "must be a string"},
		{"prefix list", `{"a":[{"prefix":["x","y"]}]}`, "a", "prefix", "must be a string"},
		{"prefix unknown object", `{"a":[{"prefix":{"wildcard":"x"}}]}`, "a", "prefix", "equals-ignore-case"},
		{"prefix ignore case number", `{"a":[{"prefix":{"equals-ignore-case":1}}]}`, "a", "prefix", "must be a string"},
		{"suffix null", `{"a":[{"suffix":null}]}`, "a", "suffix", "must be a string"},
		{"suffix ignore case list", `{"a":[{"suffix":{"equals-ignore-case":["x"]}}]}`, "a", "suffix", "must be a string"},
		{"equals-ignore-case number", `{"a":[{"equals-ignore-case":5}]}`, "a", "equals-ignore-case", "must be a string"},
		{"equals-ignore-case list", `{"a":[{"equals-ignore-case":["x"]}]}`, "a", "equals-ignore-case", "must be a string"},

		// wildcard.
		{"wildcard consecutive stars", `{"detail":{"f":[{"wildcard":"a**b"}]}}`, "detail.f", "wildcard", "consecutive"},
		{"wildcard bad escape", `{"f":[{"wildcard":"a\\b"}]}`, "f", "wildcard", "backslash"},
		{"wildcard trailing backslash", `{"f":[{"wildcard":"a\\"}]}`, "f", "wildcard", "backslash"},
		{"wildcard number", `{"f":[{"wildcard":1}]}`, "f", "wildcard", "must be a string"},
		{"wildcard list", `{"f":[{"wildcard":["a*"]}]}`, "f", "wildcard", "must be a string"},

		// anything-but.
		{"anything-but boolean", `{"a":[{"anything-but":true}]}`, "a", "anything-but", "must be a string"},
		{"anything-but null", `{"a":[{"anything-but":null}]}`, "a", "anything-but", "must be a string"},
		{"anything-but empty list", `{"a":[{"anything-but":[]}]}`, "a", "anything-but", "empty list"},
		{"anything-but mixed list", `{"a":[{"anything-but":["x",1]}]}`, "a", "anything-but", "only strings or only numbers"},
		{"anything-but list with null", `{"a":[{"anything-but":["x",null]}]}`, "a", "anything-but", "only strings or only numbers"},
		{"anything-but list of booleans", `{"a":[{"anything-but":[true]}]}`, "a", "anything-but", "only strings or only numbers"},
		{"anything-but prefix list", `{"a":[{"anything-but":{"prefix":["x","y"]}}]}`, "a", "anything-but", `"prefix" must be a non-empty string`},
		{"anything-but empty prefix", `{"a":[{"anything-but":{"prefix":""}}]}`, "a", "anything-but", `"prefix" must be a non-empty string`},
		{"anything-but suffix number", `{"a":[{"anything-but":{"suffix":1}}]}`, "a", "anything-but", `"suffix" must be a non-empty string`},
		{"anything-but numeric", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, "a", "anything-but", "cannot be used inside anything-but"},
		{"anything-but exists", `{"a":[{"anything-but":{"exists":true}}]}`, "a", "anything-but", "cannot be used inside anything-but"},
		{"anything-but nested anything-but", `{"a":[{"anything-but":{"anything-but":"x"}}]}`, "a", "anything-but", "cannot be used inside anything-but"},
		{"anything-but two keys", `{"a":[{"anything-but":{"prefix":"x","suffix":"y"}}]}`, "a", "anything-but", "exactly one key"},
		{"anything-but ignore case number", `{"a":[{"anything-but":{"equals-ignore-case":1}}]}`, "a", "anything-but", "a string or a list of strings"},
		{"anything-but ignore case empty list", `{"a":[{"anything-but":{"equals-ignore-case":[]}}]}`, "a", "anything-but", "empty list"},
		{"anything-but wildcard bad", `{"a":[{"anything-but":{"wildcard":["ok*","x**"]}}]}`, "a", "anything-but", "consecutive"},
		{"anything-but wildcard list of numbers", `{"a":[{"anything-but":{"wildcard":[1]}}]}`, "a", "anything-but", "a string or a list of strings"},

		// numeric.
		{"numeric missing number", `{"detail":{"count":[{"numeric":["<"]}]}}`, "detail.count", "numeric", `"<" must be followed by a number`},
		{"numeric string operand", `{"c":[{"numeric":[">","5"]}]}`, "c", "numeric", `">" must be followed by a number`},
		{"numeric unknown operator", `{"c":[{"numeric":["!=",5]}]}`, "c", "numeric", "not a comparison operator"},
		{"numeric number first", `{"c":[{"numeric":[5,">"]}]}`, "c", "numeric", "expected a comparison operator"},
		{"numeric empty", `{"c":[{"numeric":[]}]}`, "c", "numeric", "list of comparisons"},
		{"numeric not a list", `{"c":[{"numeric":5}]}`, "c", "numeric", "list of comparisons"},
		{"numeric two lower bounds", `{"c":[{"numeric":[">",1,">=",2]}]}`, "c", "numeric", "more than one lower bound"},
		{"numeric two upper bounds", `{"c":[{"numeric":["<",1,"<",2]}]}`, "c", "numeric", "more than one upper bound"},
		{"numeric equals combined", `{"c":[{"numeric":["=",1,"<",2]}]}`, "c", "numeric", `"=" cannot be combined`},
		{"numeric combined with equals", `{"c":[{"numeric":[">",0,"=",2]}]}`, "c", "numeric", `"=" cannot be combined`},
		{"numeric empty range", `{"c":[{"numeric":[">",5,"<",1]}]}`, "c", "numeric", "lower bound must be below"},
		{"numeric open point", `{"c":[{"numeric":[">",5,"<=",5]}]}`, "c", "numeric", "lower bound must be below"},
		{"numeric too big", `{"c":[{"numeric":["<",5000000001]}]}`, "c", "numeric", "outside the range"},
		{"numeric too small", `{"c":[{"numeric":[">",-5.1e9]}]}`, "c", "numeric", "outside the range"},
		{"numeric three bounds", `{"c":[{"numeric":[">",0,"<",5,">",1]}]}`, "c", "numeric", "more than one lower bound"},

		// cidr.
		{"cidr without length", `{"ip":[{"cidr":"10.0.0.1"}]}`, "ip", "cidr", "not an IPv4 or IPv6 CIDR block"},
		{"cidr bad length", `{"ip":[{"cidr":"10.0.0.0/33"}]}`, "ip", "cidr", "not an IPv4 or IPv6 CIDR block"},
		{"cidr garbage", `{"ip":[{"cidr":"ten/8"}]}`, "ip", "cidr", "not an IPv4 or IPv6 CIDR block"},
		{"cidr number", `{"ip":[{"cidr":10}]}`, "ip", "cidr", "must be a string"},

		// exists.
		{"exists string", `{"a":[{"exists":"true"}]}`, "a", "exists", "must be true or false"},
		{"exists number", `{"detail":{"a":[{"exists":1}]}}`, "detail.a", "exists", "must be true or false"},

		// $or.
		{"$or not an array", `{"$or":{"a":["x"]}}`, "$or", "$or", "at least two"},
		{"$or one alternative", `{"detail":{"$or":[{"a":["x"]}]}}`, "detail.$or", "$or", "at least two"},
		{"$or empty", `{"$or":[]}`, "$or", "$or", "at least two"},
		{"$or alternative not an object", `{"$or":[{"a":["x"]},["b"]]}`, "$or[1]", "$or", "pattern object"},
		{"$or empty alternative", `{"$or":[{"a":["x"]},{}]}`, "$or[1]", "$or", "empty alternative"},
		{"$or error inside alternative", `{"detail":{"$or":[{"a":["x"]},{"x":[{"numeric":["<"]}]}]}}`, "detail.$or[1].x", "numeric", "must be followed by a number"},
		{"$or nested error", `{"$or":[{"a":["x"]},{"b":["y"],"$or":[{"c":["z"]},{"d":"w"}]}]}`, "$or[1].$or[1].d", "", "must be an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Compile(%s) = %v, want an error", tc.pattern, p)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if pe.Path != tc.path || pe.Operator != tc.operator {
				t.Errorf("Compile(%s): Path %q, Operator %q; want %q, %q (%v)", tc.pattern, pe.Path, pe.Operator, tc.path, tc.operator, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("Compile(%s): message %q does not contain %q", tc.pattern, pe.Msg, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "pattern: ") {
				t.Errorf("Error() = %q, want the prefix \"pattern: \"", err.Error())
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{Path: "detail.count", Operator: "numeric", Msg: `"<" must be followed by a number`}, `pattern: detail.count: numeric: "<" must be followed by a number`},
		{Error{Path: "detail", Msg: "duplicate key"}, `pattern: detail: duplicate key`},
		{Error{Msg: "invalid JSON at offset 3: x"}, `pattern: invalid JSON at offset 3: x`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	_, err := Compile([]byte(`{"detail":{"count":[{"numeric":["<"]}]}}`))
	if want := `pattern: detail.count: numeric: "<" must be followed by a number`; err == nil || err.Error() != want {
		t.Errorf("Compile error = %v, want %s", err, want)
	}
}

// TestCompileValid checks that the patterns AWS documents, and the corner
// cases accepted on purpose, compile.
func TestCompileValid(t *testing.T) {
	for _, src := range []string{
		`{}`,
		`{"a":["x",1,true,false,null,""]}`,
		`{"a":[{"prefix":""}]}`,
		`{"a":[{"suffix":{"equals-ignore-case":""}}]}`,
		`{"a":[{"wildcard":""}]}`,
		`{"a":[{"wildcard":"*"}]}`,
		`{"a":[{"wildcard":"\\*\\\\*"}]}`,
		`{"a":[{"anything-but":"x"}]}`,
		`{"a":[{"anything-but":[1,2.5,3e2]}]}`,
		`{"a":[{"anything-but":{"equals-ignore-case":["x","Y"]}}]}`,
		`{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`,
		`{"a":[{"numeric":["=",-5e9]}]}`,
		`{"a":[{"numeric":["<=",5e9]}]}`,
		`{"a":[{"numeric":["<",10,">=",1]}]}`,
		`{"a":[{"numeric":[">=",5,"<=",5]}]}`,
		`{"a":[{"numeric":[">",0.000000001]}]}`,
		`{"a":[{"cidr":"2001:db8::/32"}]}`,
		`{"a":[{"exists":true},{"exists":false}]}`,
		`{"a":["x",{"exists":false}]}`,
		`{"prefix":["x"],"numeric":{"exists":["y"]}}`, // operator names are ordinary keys
		`{"$or":[{"a":["x"]},{"b":["y"]},{"c":{"$or":[{"d":[1]},{"e":[2]}]}}]}`,
		`{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]}]}}`,
	} {
		if _, err := Compile([]byte(src)); err != nil {
			t.Errorf("Compile(%s): %v", src, err)
		}
	}
}
