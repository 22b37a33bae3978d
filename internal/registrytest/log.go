package registrytest

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Distribution logs through logrus.StandardLogger(): its internal dcontext
// package derives every request logger from a package-level entry on the
// standard logger, and handlers.NewApp offers no way to pass another one. So
// the silencing is global: output goes to io.Discard, and a hook hands each
// entry to the Registry whose port appears in the entry's
// "http.request.host" field.
var (
	logSetup  sync.Once
	logMu     sync.RWMutex
	logSinks  = map[string]*Registry{} // by port
	debugRegs int                      // registries with WithDebugLog alive
)

func attachLogs(reg *Registry) {
	logSetup.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.ErrorLevel)
		logrus.AddHook(routeHook{})
	})
	logMu.Lock()
	defer logMu.Unlock()
	logSinks[reg.port] = reg
	if reg.debug {
		debugRegs++
		logrus.SetLevel(logrus.DebugLevel)
	}
}

func detachLogs(reg *Registry) {
	// Taking logMu first waits for hooks already routing to reg.
	logMu.Lock()
	defer logMu.Unlock()
	if logSinks[reg.port] == reg {
		delete(logSinks, reg.port)
		if reg.debug {
			debugRegs--
			if debugRegs == 0 {
				logrus.SetLevel(logrus.ErrorLevel)
			}
		}
	}
	reg.logMu.Lock()
	reg.logClosed = true
	reg.logMu.Unlock()
}

// routeHook is the logrus hook that routes entries to their Registry.
type routeHook struct{}

func (routeHook) Levels() []logrus.Level { return logrus.AllLevels }

func (routeHook) Fire(e *logrus.Entry) error {
	host, _ := e.Data["http.request.host"].(string)
	if host == "" {
		return nil // not tied to a request: NewApp chatter, background jobs
	}
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		return nil
	}
	logMu.RLock()
	defer logMu.RUnlock()
	reg := logSinks[port]
	if reg == nil || !reg.wantLog(e) {
		return nil
	}
	reg.logf("registrytest %s: %s", reg.Host, formatEntry(e))
	return nil
}

// wantLog reports whether e should reach reg's test log.
func (reg *Registry) wantLog(e *logrus.Entry) bool {
	if reg.debug {
		return true
	}
	if e.Level > logrus.ErrorLevel {
		return false
	}
	// Distribution logs every errcode response at error level; 4xx ones
	// (unknown blob on HEAD, 401 challenge, bad digest) are normal traffic.
	if status, ok := e.Data["http.response.status"].(int); ok && status >= 400 && status < 500 {
		return false
	}
	return true
}

// noisyFields are left out of formatted entries.
var noisyFields = map[string]bool{
	"go.version":               true,
	"instance.id":              true,
	"http.request.host":        true,
	"http.request.id":          true,
	"http.request.referer":     true,
	"http.request.remoteaddr":  true,
	"http.request.useragent":   true,
	"http.request.contenttype": true,
}

func formatEntry(e *logrus.Entry) string {
	var b strings.Builder
	b.WriteString(strings.ToUpper(e.Level.String()))
	b.WriteByte(' ')
	b.WriteString(e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		if !noisyFields[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(e.Data[k]))
	}
	return b.String()
}
