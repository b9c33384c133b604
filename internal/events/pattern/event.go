package pattern

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
)

// Event is a decoded event, ready to be matched against any number of
// patterns and Sets. It is immutable and safe for concurrent use.
type Event struct {
	root value
}

// ParseEvent decodes a JSON event. An event that is not a JSON object is an
// error wrapping ErrInvalidEvent.
func ParseEvent(data []byte) (*Event, error) {
	v, err := parseJSON(string(data))
	if err != nil {
		return nil, invalidEvent(err)
	}
	if v.kind != kindObject {
		return nil, invalidEvent(errors.New("the event must be a JSON object, not " + article(v.kind)))
	}
	return &Event{root: v}, nil
}

// NewEvent converts an event decoded into Go values, as encoding/json
// decodes into map[string]any: strings, float64 or json.Number, bool, nil,
// []any and map[string]any. Go integer and float types, []string and
// map[string]string are understood too. Values of other types, and
// non-finite floats or malformed json.Numbers, are dropped, as if the key
// were absent, since no pattern could have been written to match them.
func NewEvent(event map[string]any) *Event {
	root := value{kind: kindObject}
	root.obj = goObject(event)
	indexObject(&root)
	return &Event{root: root}
}

func goObject(m map[string]any) []member {
	obj := make([]member, 0, len(m))
	for k, x := range m {
		if v, ok := goValue(x); ok {
			obj = append(obj, member{key: k, val: v})
		}
	}
	return obj
}

func indexObject(v *value) {
	if len(v.obj) >= indexThreshold {
		index := make(map[string]int, len(v.obj))
		for i := range v.obj {
			index[v.obj[i].key] = i
		}
		v.index = &index
	}
}

func goValue(x any) (value, bool) {
	switch x := x.(type) {
	case nil:
		return value{kind: kindNull}, true
	case string:
		return value{kind: kindString, str: x}, true
	case bool:
		if x {
			return value{kind: kindTrue}, true
		}
		return value{kind: kindFalse}, true
	case json.Number:
		d, ok := parseDecimal(string(x))
		return numberValue(d), ok
	case float64:
		return goFloat(x, 64)
	case float32:
		return goFloat(float64(x), 32)
	case int, int8, int16, int32, int64:
		return goNumber(strconv.FormatInt(reflect.ValueOf(x).Int(), 10))
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return goNumber(strconv.FormatUint(reflect.ValueOf(x).Uint(), 10))
	case []any:
		arr := make([]value, 0, len(x))
		for _, e := range x {
			if v, ok := goValue(e); ok {
				arr = append(arr, v)
			}
		}
		return value{kind: kindArray, arr: arr}, true
	case []string:
		arr := make([]value, len(x))
		for i, s := range x {
			arr[i] = value{kind: kindString, str: s}
		}
		return value{kind: kindArray, arr: arr}, true
	case map[string]any:
		v := value{kind: kindObject, obj: goObject(x)}
		indexObject(&v)
		return v, true
	case map[string]string:
		v := value{kind: kindObject, obj: make([]member, 0, len(x))}
		for k, s := range x {
			v.obj = append(v.obj, member{key: k, val: value{kind: kindString, str: s}})
		}
		indexObject(&v)
		return v, true
	}
	return value{}, false
}

// goFloat formats with the shortest representation that round-trips, which
// is the number the JSON text held when the float came from encoding/json.
func goFloat(f float64, bits int) (value, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value{}, false
	}
	return goNumber(strconv.FormatFloat(f, 'g', -1, bits))
}

func goNumber(s string) (value, bool) {
	d, ok := parseDecimal(s)
	return numberValue(d), ok
}
