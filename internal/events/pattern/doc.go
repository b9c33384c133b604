// Package pattern implements the Amazon EventBridge event pattern language:
// it compiles EventBridge event patterns, matches them against JSON events,
// and keeps many named patterns (rules) in a Set that finds every rule an
// event matches without evaluating rules that cannot match.
//
// Vigil emits EventBridge envelopes (see package events); rules written for
// AWS must select the same events here as they do on an AWS event bus, so
// the semantics below follow AWS's documentation of event patterns and
// content filtering:
//
//   - A pattern is a JSON object. Every leaf is an array; values in one array
//     OR together, fields AND together, nested objects match nested fields.
//     The empty pattern {} matches every event.
//   - Exact values: strings, numbers, true, false and null. null matches a
//     JSON null, not a missing key; "" matches only the empty string. Numbers
//     compare as numbers (300 equals 3.0e2) and never equal strings.
//   - Operators, each an object with one key inside a leaf array: prefix,
//     suffix (both optionally {"equals-ignore-case": s}), equals-ignore-case,
//     wildcard, anything-but, numeric, cidr and exists; and "$or" as a key at
//     any level of the pattern.
//   - When the event holds an array, a leaf matches if any element matches.
//     A nested pattern under an array of objects must match within one
//     element: fields from different elements never combine into a match.
//
// Where AWS leaves a corner undocumented the choices are made in one place
// each and explained there; the ones a rule author may notice are:
//
//   - exists:true matches a key holding a leaf value, null included, or an
//     array with at least one leaf; exists:false matches everything else: a
//     missing key, an object, an empty array, an array of objects.
//   - anything-but only matches values of its operand's kind: anything-but
//     a string (or a prefix, suffix, wildcard...) matches strings, anything-but
//     a number matches numbers; a missing key never matches.
//   - numeric operands must lie within ±5e9, AWS's documented range; event
//     values are compared exactly, as decimals, with no range or precision
//     limit, so nothing AWS matches is missed.
//
// Patterns are immutable once compiled and may be shared by any number of
// goroutines and Sets.
package pattern
