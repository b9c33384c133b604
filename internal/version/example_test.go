package version_test

import (
	"errors"
	"fmt"

	"github.com/vigilsec/vigil/internal/version"
)

func ExampleFor() {
	cmp, err := version.For("Debian:12")
	if err != nil {
		panic(err)
	}
	c, err := cmp.Compare("1.0~rc1-1", "1.0-1")
	fmt.Println(c, err)

	// A version the ecosystem cannot parse is an error, not an order.
	_, err = cmp.Compare("1.0-1", "<not-affected>")
	fmt.Println(errors.Is(err, version.ErrInvalid))
	// Output:
	// -1 <nil>
	// true
}

func ExampleAPK() {
	// Alpine's secdb sometimes gives a fixed version without -rN: it
	// sorts before every package revision of that version.
	c, _ := version.APK{}.Compare("2.17.1-r0", "2.17.1")
	fmt.Println(c)
	// Output: 1
}
