package version

import "testing"

// benchPairs are real versions of the kind a matcher compares: an
// installed version against the fixed versions of its advisories.
var benchPairs = map[string][][2]string{
	"dpkg": {
		{"2:1.20.11-1+deb11u6", "2:1.20.11-1+deb11u5"},
		{"111.0.5563.110-1~deb11u1", "111.0.5563.64-1~deb11u1"},
		{"7.74.0-1.3+deb11u7", "7.74.0-1.3+deb11u10"},
		{"1:9.16.37-1~deb11u1", "1:9.16.44-1~deb11u1"},
		{"4.14.5+94-ge49571868d-1", "4.14.6-1"},
	},
	"rpm": {
		{"1:2.2.6-62.el8_10", "1:2.2.6-61.el8"},
		{"2.4.37-47.module_el8.6.0+2872+fe0ff7aa.1.alma", "2.4.37-51.module_el8.7.0+3281+01e58653"},
		{"5.14.0-570.46.1.el9_6", "5.14.0-570.49.1.el9_6"},
		{"128.6.0-3.el8_10.alma.1", "128.6.0-3.el8_10"},
		{"20230814-140.el9_3", "20230808-139.el9_3"},
	},
}

func benchmarkCompare(b *testing.B, cmp Comparer, pairs [][2]string) {
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pairs {
			if _, err := cmp.Compare(p[0], p[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(pairs))/b.Elapsed().Seconds(), "cmp/s")
}

func BenchmarkDpkg(b *testing.B) { benchmarkCompare(b, Dpkg{}, benchPairs["dpkg"]) }
func BenchmarkRPM(b *testing.B)  { benchmarkCompare(b, RPM{}, benchPairs["rpm"]) }
