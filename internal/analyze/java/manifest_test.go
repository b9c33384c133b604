package java

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string // main section, "\n"-separated
		file     string
		want     string // "<Name> <Version> <metadata>"
	}{
		{"file name only", "", "guava-31.1-jre.jar", "guava 31.1-jre maven.groupId.unknown=true"},
		{"unversioned file name", "", "app.jar", "app  maven.groupId.unknown=true"},
		{"hidden file", "", ".jar", ".jar  maven.groupId.unknown=true"},
		{"digits in artifactId, split by the manifest version",
			"Implementation-Version: 2.19.0\nBundle-SymbolicName: org.apache.logging.log4j.1.2-api",
			"log4j-1.2-api-2.19.0.jar", "org.apache.logging.log4j:log4j-1.2-api 2.19.0 maven.groupId.from=Bundle-SymbolicName"},
		{"digits in artifactId, no manifest version", "", "log4j-1.2-api-2.19.0.jar", "log4j 1.2-api-2.19.0 maven.groupId.unknown=true"},
		{"symbolic name <groupId>.<artifactId>",
			"Bundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind\nBundle-Version: 2.14.0",
			"jackson-databind.jar", "com.fasterxml.jackson.core:jackson-databind 2.14.0 maven.groupId.from=Bundle-SymbolicName"},
		{"symbolic name <groupId>.<rest>",
			"Bundle-SymbolicName: org.apache.commons.lang3\nBundle-Version: 3.12.0",
			"commons-lang3-3.12.0.jar", "org.apache.commons:commons-lang3 3.12.0 maven.groupId.from=Bundle-SymbolicName"},
		{"symbolic name with directives",
			"Bundle-SymbolicName: org.foo.bar;singleton:=true\nImplementation-Version: 1.0",
			"bar-1.0.jar", "org.foo:bar 1.0 maven.groupId.from=Bundle-SymbolicName"},
		{"ambiguous symbolic name settled by the vendor id",
			"Bundle-SymbolicName: com.google.guava\nImplementation-Vendor-Id: com.google.guava\nBundle-Version: 31.1.0.jre",
			"guava-31.1-jre.jar", "com.google.guava:guava 31.1.0.jre maven.groupId.from=Bundle-SymbolicName"},
		{"ambiguous symbolic name, shortest reading",
			"Bundle-SymbolicName: com.google.guava",
			"guava-31.1-jre.jar", "com.google:guava 31.1-jre maven.groupId.from=Bundle-SymbolicName"},
		{"symbolic name that fits no reading, vendor id used",
			"Bundle-SymbolicName: org.springframework.core\nImplementation-Vendor-Id: org.springframework\nImplementation-Version: 5.3.20",
			"spring-core-5.3.20.jar", "org.springframework:spring-core 5.3.20 maven.groupId.from=Implementation-Vendor-Id"},
		{"symbolic name beats a contradicting vendor id (log4j's parent groupId)",
			"Bundle-SymbolicName: org.apache.logging.log4j.core\nImplementation-Vendor-Id: org.apache\nImplementation-Version: 2.19.0",
			"log4j-core.jar", "org.apache.logging.log4j:log4j-core 2.19.0 maven.groupId.from=Bundle-SymbolicName"},
		{"one-part groupIds are not guessed",
			"Bundle-SymbolicName: junit\nImplementation-Vendor-Id: junit\nImplementation-Version: 4.13",
			"junit-4.13.jar", "junit 4.13 maven.groupId.unknown=true"},
		{"Gradle-built jar: title and module name are not groupIds",
			"Implementation-Title: spring-core\nImplementation-Version: 5.3.20\nAutomatic-Module-Name: spring.core",
			"spring-core-5.3.20.jar", "spring-core 5.3.20 maven.groupId.unknown=true"},
		{"file name version beats Specification-Version",
			"Specification-Version: 2.0", "x-1.5.jar", "x 1.5 maven.groupId.unknown=true"},
		{"Specification-Version last", "Specification-Version: 2.0", "x.jar", "x 2.0 maven.groupId.unknown=true"},
		{"invalid Implementation-Version skipped",
			"Implementation-Version: 1.0 beta\nBundle-Version: 1.0.0.beta", "x-1.0.jar", "x 1.0.0.beta maven.groupId.unknown=true"},
		{"artifactId that cannot be a Maven id gets no groupId",
			"Implementation-Vendor-Id: org.example", "my app.jar", "my app  maven.groupId.unknown=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attrs map[string]string
			if tc.manifest != "" {
				attrs, _ = parseManifest([]byte(tc.manifest + "\n"))
			}
			p := describe(attrs, tc.file)
			got := p.Name + " " + p.Version
			for _, k := range slices.Sorted(maps.Keys(p.Metadata)) {
				got += " " + k + "=" + p.Metadata[k]
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     string
		want     map[string]string
		complete bool
	}{
		{"CRLF and continuation",
			"Manifest-Version: 1.0\r\nBundle-SymbolicName: com.fasterxml.jackson.core.jackso\r\n n-databind\r\n\r\nName: x\r\nBundle-Version: 9\r\n",
			map[string]string{"manifest-version": "1.0", "bundle-symbolicname": "com.fasterxml.jackson.core.jackson-databind"}, true},
		{"names without case, later wins", "implementation-VERSION: 1\nImplementation-Version: 2\n",
			map[string]string{"implementation-version": "2"}, false},
		{"CR line ends", "A: 1\rB: 2\r\rC: 3\r", map[string]string{"a": "1", "b": "2"}, true},
		{"malformed line skipped with its continuation", "A: 1\nnot a header\n continued\nB:2\n",
			map[string]string{"a": "1", "b": "2"}, false},
		{"blank values", "Implementation-Vendor: \nX:\n", map[string]string{"implementation-vendor": "", "x": ""}, false},
		{"leading continuation ignored", " x\nA: 1\n", map[string]string{"a": "1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, complete := parseManifest([]byte(tc.data))
			if !maps.Equal(got, tc.want) || complete != tc.complete {
				t.Errorf("got %v %v, want %v %v", got, complete, tc.want, tc.complete)
			}
		})
	}
}

func TestSplitFileName(t *testing.T) {
	for _, tc := range []struct{ file, hint, artifact, version string }{
		{"log4j-core-2.19.0.jar", "", "log4j-core", "2.19.0"},
		{"log4j-core.jar", "2.19.0", "log4j-core", ""},
		{"commons-lang3-3.12.0.jar", "", "commons-lang3", "3.12.0"},
		{"netty-tcnative-boringssl-static-2.0.54.Final-linux-x86_64.jar", "", "netty-tcnative-boringssl-static", "2.0.54.Final-linux-x86_64"},
		{"foo-1.0-20230101.120000-3.jar", "", "foo", "1.0-20230101.120000-3"},
		{"log4j-1.2-api-2.19.0.jar", "2.19.0", "log4j-1.2-api", "2.19.0"},
		{"-1.0.jar", "", "-1.0", ""},
		{"app.war", "", "app", ""},
		{"NOTES", "", "NOTES", ""},
	} {
		a, v := splitFileName(tc.file, tc.hint)
		if a != tc.artifact || v != tc.version {
			t.Errorf("splitFileName(%q, %q) = %q, %q; want %q, %q", tc.file, tc.hint, a, v, tc.artifact, tc.version)
		}
	}
}

func FuzzDescribe(f *testing.F) {
	f.Add([]byte("Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.logging.log4j.core\r\nImplementation-Version: 2.19.0\r\n\r\n"), "log4j-core.jar")
	f.Add([]byte("Implementation-Vendor-Id: a.b\n x\nBundle-Version: 1\n"), "x-1.0.jar")
	f.Fuzz(func(t *testing.T, data []byte, file string) {
		attrs, _ := parseManifest(data)
		for k := range attrs {
			if k != strings.ToLower(k) {
				t.Fatalf("key %q not lower case", k)
			}
		}
		p := describe(attrs, file)
		if file != "" && p.Name == "" {
			t.Fatalf("no name for %q", file)
		}
		if g, a, ok := strings.Cut(p.Name, ":"); ok && p.Metadata["maven.groupId.from"] != "" && (!validID(g) || !validID(a)) {
			t.Fatalf("invalid name %q", p.Name)
		}
		if p.Version != "" && !validVersion(p.Version) {
			t.Fatalf("invalid version %q", p.Version)
		}
	})
}
