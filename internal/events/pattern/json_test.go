package pattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// toAny renders a value as Go values with numbers as canonical strings, for
// comparison with encoding/json's decoding.
func toAny(v *value) any {
	switch v.kind {
	case kindNull:
		return nil
	case kindTrue:
		return true
	case kindFalse:
		return false
	case kindNumber:
		return fmt.Sprintf("num:%v", v.number().key())
	case kindString:
		return v.str
	case kindArray:
		out := make([]any, len(v.arr))
		for i := range v.arr {
			out[i] = toAny(&v.arr[i])
		}
		return out
	default:
		out := make(map[string]any, len(v.obj))
		for i := range v.obj {
			out[v.obj[i].key] = toAny(&v.obj[i].val)
		}
		return out
	}
}

func normalizeStd(x any) any {
	switch x := x.(type) {
	case json.Number:
		d, ok := parseDecimal(string(x))
		if !ok {
			return "bad number " + string(x)
		}
		return fmt.Sprintf("num:%v", d.key())
	case []any:
		for i := range x {
			x[i] = normalizeStd(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalizeStd(x[k])
		}
		return x
	}
	return x
}

// checkAgainstStdlib reports a difference between parseJSON and
// encoding/json on data: both must accept or reject it, and decode it to
// the same values.
func checkAgainstStdlib(t *testing.T, data []byte) {
	t.Helper()
	v, err := parseJSON(string(data))
	valid := json.Valid(data)
	if (err == nil) != valid {
		t.Fatalf("parseJSON(%q) error = %v, json.Valid = %v", data, err, valid)
	}
	if err != nil {
		return
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var std any
	if err := d.Decode(&std); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if got, want := toAny(&v), normalizeStd(std); !reflect.DeepEqual(got, want) {
		t.Fatalf("parseJSON(%q) = %#v, encoding/json = %#v", data, got, want)
	}
}

var jsonCorpus = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [ 1 , 2 ] } `,
	`{"a":"\u00e9\n\t\"\\\/\b\f\r"}`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
	`"\ud83d\ud83d\ude00"`, "\"\xff\"", "\"a\xc3\"", "\"\xe2\x82\"", "\"é\"", `{"a":1,"a":2}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k0":"last"}`,
	// Invalid documents.
	``, ` `, `{`, `}`, `[`, `[1,]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `{'a':1}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`tru`, `nul`, `"a`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01\"", `[1 2]`, `{"a":1 "b":2}`, `1 2`, `{}}`, `NaN`,
	"\"\\ud83d\\u12\"",
}

func TestParseJSONAgainstStdlib(t *testing.T) {
	for _, s := range jsonCorpus {
		checkAgainstStdlib(t, []byte(s))
	}
}

func TestParseJSONDepth(t *testing.T) {
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := parseJSON(ok); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, err := parseJSON(deep); err == nil {
		t.Errorf("depth %d accepted", maxDepth+1)
	}
	if json.Valid([]byte(deep)) {
		t.Errorf("encoding/json accepts depth %d; the limits should agree", maxDepth+1)
	}
}

func TestParseJSONErrorOffset(t *testing.T) {
	_, err := parseJSON(`{"a": tru}`)
	if err == nil || !strings.Contains(err.Error(), "offset 6") {
		t.Errorf("error = %v, want one at offset 6", err)
	}
}

func TestLargeObjectLookup(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 60 {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(`"k7":"dup"}`)
	v, err := parseJSON(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if v.index == nil {
		t.Fatal("large object has no index")
	}
	if got, ok := v.get("k7"); !ok || got.kind != kindString || got.str != "dup" {
		t.Errorf("get(k7) = %+v, %v; want the last duplicate", got, ok)
	}
	if got, ok := v.get("k39"); !ok || got.str != "39" {
		t.Errorf("get(k39) = %+v, %v", got, ok)
	}
	if _, ok := v.get("k60"); ok {
		t.Error("get(k60) found a key that is not there")
	}
}
