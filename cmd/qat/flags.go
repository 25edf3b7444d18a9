package main

import (
	"fmt"
	"strings"

	"github.com/qat-go/qat/models"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// rejectEmpty refuses a string flag given as "" or blanks (--out "",
// --config " "),
// which would otherwise mean a default or a confusing error from the
// system ("mkdir : no such file or directory").
func rejectEmpty(c *cobra.Command, _ []string) error {
	var err error
	c.Flags().Visit(func(f *pflag.Flag) {
		if err == nil && f.Value.Type() == "string" && strings.TrimSpace(f.Value.String()) == "" {
			name, _ := pflag.UnquoteUsage(f)
			if name == "" || name == "string" {
				name = "value"
			}
			err = fmt.Errorf("--%s is empty: give a %s, or leave the flag out", f.Name, name)
		}
	})
	return err
}

// parseScaleFlag reads a --scale flag (0 when not given).
func parseScaleFlag(c *cobra.Command, s string) (float64, error) {
	if !c.Flags().Changed("scale") {
		return 0, nil
	}
	v, err := models.ParseScale(s)
	if err != nil {
		return 0, fmt.Errorf("--scale: %w", err)
	}
	return v, nil
}
