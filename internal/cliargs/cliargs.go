// Package cliargs lets a urfave/cli v2 application take flags after its
// positional arguments (`tierpack pull REF -o DIR`), which urfave/cli v2
// does not: it stops parsing flags at the first positional argument. It
// knows nothing of tierpack; it only reads the app's flag definitions.
package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Reorder moves a command's flags in front of its positional arguments, so
// `tierpack pull REF -o DIR` works like `tierpack pull -o DIR REF`, and
// global flags written after the command in front of it. Everything after
// "--" stays as it is.
func Reorder(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		// Shell completion reads the words as typed: a flag that waits for
		// its value must stay last.
		return args
	}
	out := []string{args[0]}
	i := 1
	// Global flags come before the command name.
	valueFlags := takesValue(app.Flags)
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		out = append(out, args[i])
		if needsValue(args[i], valueFlags) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
		i++
	}
	cmds := app.Commands
	var cmd *cli.Command
	for i < len(args) {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd = next
		out = append(out, args[i])
		i++
		cmds = cmd.Subcommands
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return append(out, args[i:]...)
	}
	cmdFlags := takesValue(cmd.Flags)
	globalFlags := takesValue(app.Flags)
	var globals, flags, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			name := flagName(a)
			_, isCmd := cmdFlags[name]
			_, isGlobal := globalFlags[name]
			if !isCmd && isGlobal {
				// A global flag written after the command: move it before.
				globals = append(globals, a)
				if needsValue(a, globalFlags) && i+1 < len(args) {
					i++
					globals = append(globals, args[i])
				}
				continue
			}
			flags = append(flags, a)
			if needsValue(a, cmdFlags) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	// out is: program, global flags, command path. Insert the moved
	// globals right after the program's own global flags.
	nGlobal := 1
	for nGlobal < len(out) && strings.HasPrefix(out[nGlobal], "-") {
		nGlobal++
		if needsValue(out[nGlobal-1], globalFlags) {
			nGlobal++
		}
	}
	res := append([]string{}, out[:nGlobal]...)
	res = append(res, globals...)
	res = append(res, out[nGlobal:]...)
	res = append(res, flags...)
	return append(res, pos...)
}

func flagName(arg string) string {
	name := strings.TrimLeft(arg, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	return name
}

func takesValue(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func needsValue(arg string, valueFlags map[string]bool) bool {
	if strings.Contains(arg, "=") {
		return false
	}
	return valueFlags[flagName(arg)]
}
