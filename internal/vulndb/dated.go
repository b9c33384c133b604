package vulndb

import "time"

// Dated reports whether t is a real data date, as Oldest judges one: a
// feed whose data age is zero or before any vulnerability data existed
// is of unknown age.
func Dated(t time.Time) bool { return realTime(t) }
