package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// The distribution library logs through logrus's standard logger, which
// is process-wide; so is this bridge, which routes its warnings and errors
// to the slog logger of the registry created last.
var libraryLog struct {
	once   sync.Once
	logger atomic.Pointer[slog.Logger]
}

// routeLibraryLogs sends the library's warnings and errors to l (nil
// discards them) and nothing of its own output anywhere else.
func routeLibraryLogs(l *slog.Logger) {
	libraryLog.logger.Store(l)
	libraryLog.once.Do(func() {
		std := logrus.StandardLogger()
		std.SetLevel(logrus.WarnLevel) // info and debug are per-request chatter
		std.SetOutput(io.Discard)
		std.SetFormatter(nullFormatter{})
		std.AddHook(slogHook{})
	})
}

type nullFormatter struct{}

func (nullFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// slogHook forwards logrus entries to slog.
type slogHook struct{}

func (slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

// loggedFields are the library's log fields that are passed on. Everything
// else (headers, user agents, remote addresses, full URIs whose query may
// carry upload state) is dropped.
var loggedFields = []string{
	"err.code", "err.message", "err.detail", "error",
	"http.request.method", "http.request.uri", "http.response.status",
	"vars.name", "vars.reference", "vars.digest",
}

func (slogHook) Fire(e *logrus.Entry) error {
	l := libraryLog.logger.Load()
	if l == nil {
		return nil
	}
	level := slog.LevelWarn
	if e.Level <= logrus.ErrorLevel {
		level = slog.LevelError
	}
	// The library logs every 4xx answer as an error, but a client asking
	// whether a blob exists before uploading it, or sending bad
	// credentials, is the client's business, not a server fault.
	if st, ok := e.Data["http.response.status"].(int); ok && st >= 400 && st < 500 {
		level = slog.LevelDebug
	}
	attrs := []any{"component", "distribution"}
	for _, k := range loggedFields {
		v, ok := e.Data[k]
		if !ok {
			continue
		}
		s := fmt.Sprint(v)
		if k == "http.request.uri" {
			s, _, _ = strings.Cut(s, "?")
		}
		if len(s) > 512 {
			s = s[:512] + "…"
		}
		attrs = append(attrs, k, s)
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	l.Log(ctx, level, e.Message, attrs...)
	return nil
}
