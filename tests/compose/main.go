// Parses docker-compose.yml with compose-go (the Compose Specification's reference parser,
// the one `docker compose` itself uses), validating it against the spec's schema, and prints
// the resolved project as JSON for check.py. There is no Docker engine here to run it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := "docker-compose.yml"
	if len(os.Args) > 1 {
		file = os.Args[1]
	}
	options, err := cli.NewProjectOptions([]string{file}, cli.WithName("kafka-orders"), cli.WithOsEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose: invalid file:", err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
