package rpm

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestExpTmp(t *testing.T) {
	b, _ := os.ReadFile("testdata/fuzz/FuzzExpNDBTmp/8ed7c8cf0897b0cf")
	lines := strings.Split(string(b), "\n")
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(s)
	t.Log(len(data), isNDB(data))
	t.Log(checkNDB(bytes.NewReader(data), int64(len(data))))
}
