package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// DebugEnv, set to any value, makes Serve run in debug mode: instead of
// waiting for a host to start it, the plugin listens on its own and prints a
// TIERPACK_REATTACH_PLUGINS value that points a host at it. Run the plugin
// under a debugger this way and set breakpoints in its methods.
const DebugEnv = "TIERPACK_PLUGIN_DEBUG"

// ReattachEnv is the environment variable a host reads to attach to plugins
// already running in debug mode: a JSON object from type name to
// ReattachInfo.
const ReattachEnv = "TIERPACK_REATTACH_PLUGINS"

// ReattachInfo says where a plugin in debug mode listens.
type ReattachInfo struct {
	Protocol        string `json:"protocol"`
	ProtocolVersion int    `json:"protocolVersion"`
	Pid             int    `json:"pid"`
	Network         string `json:"network"`
	Address         string `json:"address"`
}

// stderr is the process's real standard error, saved before go-plugin's
// Serve redirects os.Stderr into its gRPC stdio stream: log lines written
// there reach the host's log parser directly, and survive a crash.
var stderr = os.Stderr

// Serve runs impl as a tierpack plugin and does not return until the host
// stops it. Call it from main and do nothing before it that writes to
// stdout.
//
// A plugin dies with its host: if the host is killed outright (SIGKILL)
// and cannot stop it, Serve notices within ParentCheckInterval that it has
// lost its parent and exits (on Linux the host also has the kernel kill the
// plugin at once: Pdeathsig). Not on Windows, where a parent's death is not
// visible this way.
func Serve(impl Packager) {
	cfg := serveConfig(impl)
	if os.Getenv(DebugEnv) != "" {
		if err := serveDebug(cfg, impl); err != nil {
			fmt.Fprintln(os.Stderr, "tierpack plugin:", err)
			os.Exit(1)
		}
		return
	}
	go exitWithParent(ParentCheckInterval, func() {
		fmt.Fprintln(stderr, "tierpack plugin: the host process is gone; exiting")
		os.Exit(3)
	})
	plugin.Serve(cfg)
}

// ParentCheckInterval is how often a serving plugin checks that its host
// is still running.
const ParentCheckInterval = 200 * time.Millisecond

func serveConfig(impl Packager) *plugin.ServeConfig {
	return &plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: PluginSets(impl),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     stderr,
			JSONFormat: true,
			Level:      hclog.Trace,
		}),
	}
}

func serveDebug(cfg *plugin.ServeConfig, impl Packager) error {
	d, err := impl.Describe(context.Background())
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-closed:
		return fmt.Errorf("plugin server stopped before it was ready")
	}
	info := map[string]ReattachInfo{d.Type: {
		Protocol:        string(rc.Protocol),
		ProtocolVersion: rc.ProtocolVersion,
		Pid:             rc.Pid,
		Network:         rc.Addr.Network(),
		Address:         rc.Addr.String(),
	}}
	b, _ := json.Marshal(info)
	fmt.Fprintf(os.Stderr, "plugin %q is serving in debug mode; in another shell run:\n\n  export %s='%s'\n\nthen any tierpack command. Ctrl-C stops the plugin.\n", d.Type, ReattachEnv, b)
	<-closed
	return nil
}

// Logger returns a logger for plugin code. It writes JSON lines to stderr in
// the shape go-plugin's host parses, so messages appear in the host's log at
// their level, named after the plugin.
func Logger() *slog.Logger {
	return slog.New(newHostLogHandler(stderr))
}

func newHostLogHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	})
}
