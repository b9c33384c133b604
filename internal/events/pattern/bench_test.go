package pattern

import (
	"fmt"
	"testing"
)

// inspectorFinding is an Amazon Inspector2 Finding event as Vigil emits it,
// about 3 KB: the benchmark's realistic input.
const inspectorFinding = `{"version":"0","id":"5d0c5a8e-3b1f-4c7e-9a52-8f1e6d2c4b71","detail-type":"Inspector2 Finding","source":"aws.inspector2","account":"000000000000","time":"2026-12-02T10:00:00Z","region":"local","resources":["arn:aws:ecr:local:000000000000:repository/team/app/sha256:9b2e4f0c7d1a3e5b8c6f2a9d4e7b1c3f5a8d2e6b9c4f7a1d3e5b8c2f6a9d4e7b"],"detail":{"awsAccountId":"000000000000","description":"Issue summary: Applications performing certificate name checks (e.g., TLS clients checking server certificates) may attempt to read an invalid memory address resulting in abnormal termination of the application process. Impact summary: Abnormal termination of an application can a cause a denial of service.","findingArn":"arn:aws:inspector2:local:000000000000:finding/0123456789abcdef0123456789abcdef","firstObservedAt":"2026-12-02T10:00:00Z","lastObservedAt":"2026-12-02T10:00:00Z","updatedAt":"2026-12-02T10:00:00Z","type":"PACKAGE_VULNERABILITY","title":"CVE-2024-6119 - libssl3, openssl","severity":"HIGH","status":"ACTIVE","inspectorScore":7.5,"inspectorScoreDetails":{"adjustedCvss":{"adjustments":[],"cvssSource":"NVD","score":7.5,"scoreSource":"NVD","scoringVector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H","version":"3.1"}},"exploitAvailable":"NO","fixAvailable":"YES","epss":{"score":0.0012},"packageVulnerabilityDetails":{"vulnerabilityId":"CVE-2024-6119","source":"DEBIAN_CVE","sourceUrl":"https://security-tracker.debian.org/tracker/CVE-2024-6119","vendorSeverity":"not yet assigned","vendorCreatedAt":"2024-09-03T16:15:06Z","cvss":[{"baseScore":7.5,"scoringVector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H","source":"NVD","version":"3.1"}],"referenceUrls":["https://www.openssl.org/news/secadv/20240903.txt","https://github.com/openssl/openssl/commit/05f360d9e849a1b277db628f1f13083a7f8dd04f","https://github.com/openssl/openssl/commit/06d1dc3fa96a2ba5a3e22735a033012aadc9f0d6","https://security-tracker.debian.org/tracker/CVE-2024-6119"],"relatedVulnerabilities":["CVE-2024-6119"],"vulnerablePackages":[{"name":"libssl3","version":"3.0.11","epoch":0,"release":"1~deb12u2","arch":"amd64","packageManager":"OS","fixedInVersion":"3.0.14-1~deb12u2","remediation":"apt-get install --only-upgrade libssl3","sourceLayerHash":"sha256:2c3f5e8a1b4d7c9e0f2a5b8d1c4e7f0a3b6d9c2e5f8a1b4d7c0e3f6a9b2d5c8e"},{"name":"openssl","version":"3.0.11","epoch":0,"release":"1~deb12u2","arch":"amd64","packageManager":"OS","fixedInVersion":"3.0.14-1~deb12u2","remediation":"apt-get install --only-upgrade openssl","sourceLayerHash":"sha256:2c3f5e8a1b4d7c9e0f2a5b8d1c4e7f0a3b6d9c2e5f8a1b4d7c0e3f6a9b2d5c8e"}]},"remediation":{"recommendation":{"text":"None Provided"}},"resources":[{"type":"AWS_ECR_CONTAINER_IMAGE","id":"arn:aws:ecr:local:000000000000:repository/team/app/sha256:9b2e4f0c7d1a3e5b8c6f2a9d4e7b1c3f5a8d2e6b9c4f7a1d3e5b8c2f6a9d4e7b","partition":"aws","region":"local","details":{"awsEcrContainerImage":{"architecture":"amd64","imageHash":"sha256:9b2e4f0c7d1a3e5b8c6f2a9d4e7b1c3f5a8d2e6b9c4f7a1d3e5b8c2f6a9d4e7b","imageTags":["v1","latest"],"platform":"DEBIAN_12","pushedAt":"2026-12-02T09:58:41Z","registry":"000000000000","repositoryName":"team/app"}}}]}}`

// benchRules returns n rule patterns in a mix a security team might run:
// most rules concern other sources, the rest select Inspector findings by
// detail-type, severity, score range, repository prefix, title wildcard,
// anything-but and $or. A few of them match inspectorFinding.
func benchRules(n int) []string {
	severities := []string{`["CRITICAL"]`, `["HIGH","CRITICAL"]`, `["LOW"]`, `["MEDIUM","HIGH"]`, `["INFORMATIONAL","UNTRIAGED"]`}
	rules := make([]string, n)
	for i := range rules {
		var r string
		switch i % 10 {
		case 0:
			r = fmt.Sprintf(`{"source":["aws.svc%d"],"detail-type":["Thing %d Changed"]}`, i, i)
		case 1:
			r = fmt.Sprintf(`{"source":["aws.svc%d"],"$or":[{"detail-type":["A"]},{"detail":{"state":["B%d"]}}]}`, i, i)
		case 2:
			r = fmt.Sprintf(`{"source":["aws.inspector2"],"detail-type":["Inspector2 Finding"],"detail":{"severity":%s}}`, severities[i/10%len(severities)])
		case 3:
			lo := i / 10 % 100
			r = fmt.Sprintf(`{"source":["aws.inspector2"],"detail":{"inspectorScore":[{"numeric":[">=",%d.%d,"<",%d]}]}}`, lo/10, lo%10, lo/10+1)
		case 4:
			r = fmt.Sprintf(`{"source":["aws.inspector2"],"detail":{"resources":{"details":{"awsEcrContainerImage":{"repositoryName":[{"prefix":"team%d/"}]}}}}}`, i/10%20)
		case 5:
			r = fmt.Sprintf(`{"detail-type":["Inspector2 Finding"],"detail":{"title":[{"wildcard":"CVE-20*-%d*"}]}}`, i/10%10000)
		case 6:
			r = fmt.Sprintf(`{"source":["aws.ecr"],"detail":{"repository-name":[{"anything-but":["team/app%d"]}]}}`, i)
		case 7:
			r = fmt.Sprintf(`{"source":["aws.inspector2"],"$or":[{"detail":{"fixAvailable":["YES"]}},{"detail":{"exploitAvailable":["YES"]}}],"detail":{"packageVulnerabilityDetails":{"vulnerabilityId":["CVE-2024-%d"]}}}`, 6119+i/10%50)
		case 8:
			r = fmt.Sprintf(`{"account":["%012d"],"detail":{"status":[{"anything-but":"SUPPRESSED"}]}}`, i/10%1000)
		case 9:
			if i%100 == 9 {
				// Nothing narrows this one down: every event evaluates it.
				r = fmt.Sprintf(`{"detail":{"epss":{"score":[{"numeric":[">",0.%03d]}]},"status":[{"anything-but":["CLOSED"]}]}}`, i/100%1000)
			} else {
				r = fmt.Sprintf(`{"source":["aws.guardduty%d"],"detail":{"severity":[{"numeric":[">",7]}]}}`, i)
			}
		}
		rules[i] = r
	}
	return rules
}

func BenchmarkMatch(b *testing.B) {
	p := mustCompile(b, `{"source":["aws.inspector2"],"detail-type":["Inspector2 Finding"],"detail":{"severity":["HIGH","CRITICAL"],"inspectorScore":[{"numeric":[">=",7]}],"resources":{"details":{"awsEcrContainerImage":{"repositoryName":[{"prefix":"team/"}]}}}}}`)
	event := []byte(inspectorFinding)
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(event)))
		b.ReportAllocs()
		for b.Loop() {
			ok, err := p.Match(event)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decoded", func(b *testing.B) {
		e, err := ParseEvent(event)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !p.MatchEvent(e) {
				b.Fatal("no match")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

func BenchmarkParseEvent(b *testing.B) {
	event := []byte(inspectorFinding)
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(event); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkSetMatches(b *testing.B) {
	event := []byte(inspectorFinding)
	for _, n := range []int{10, 100, 1000, 10000} {
		var s Set
		for i, src := range benchRules(n) {
			s.Add(fmt.Sprintf("rule-%05d", i), mustCompile(b, src))
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var matched int
			for b.Loop() {
				names, err := s.Matches(event)
				if err != nil {
					b.Fatal(err)
				}
				matched = len(names)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matched), "matches")
		})
	}
}

// BenchmarkEveryPattern is the baseline the Set's index is measured
// against: the event decoded once, then every pattern evaluated.
func BenchmarkEveryPattern(b *testing.B) {
	event := []byte(inspectorFinding)
	for _, n := range []int{1000, 10000} {
		var ps []*Pattern
		for _, src := range benchRules(n) {
			ps = append(ps, mustCompile(b, src))
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			for b.Loop() {
				e, err := ParseEvent(event)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range ps {
					p.MatchEvent(e)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkSetMatchesDistinctSources is the case the index exists for:
// every rule names a source of its own, and one in a hundred is about
// Inspector findings.
func BenchmarkSetMatchesDistinctSources(b *testing.B) {
	event := []byte(inspectorFinding)
	for _, n := range []int{1000, 10000} {
		var s Set
		for i := range n {
			src := fmt.Sprintf(`{"source":["aws.svc%d"],"detail":{"severity":["HIGH"]}}`, i)
			if i%100 == 0 {
				src = fmt.Sprintf(`{"source":["aws.inspector2"],"detail":{"inspectorScore":[{"numeric":[">",%d]}]}}`, i/100%10)
			}
			s.Add(fmt.Sprintf("rule-%05d", i), mustCompile(b, src))
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var matched int
			for b.Loop() {
				names, err := s.Matches(event)
				if err != nil {
					b.Fatal(err)
				}
				matched = len(names)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matched), "matches")
		})
	}
}
