package tierpack

import (
	"io"
	"log/slog"
)

// NewLogger returns the logger for the records the use cases write through
// log/slog (a mirror passed over, a demotion that could not be kept): text
// on w at level ("debug", "info", "warn" or "error"; warn when it is not
// one of them), without timestamps, so a warning reads as one line.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}}))
}
