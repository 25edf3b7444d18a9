package tfgraph

import "strings"

// varHome is where a view's new variables go: the name prefix they leave
// out and the function that picks their device.
type varHome struct {
	strip  string
	device func(name string, bytes int64) string
}

// PlaceVariables returns a view whose new variables (NewVariable) are
// named without the prefix strip and placed on the device that device
// returns for the variable's full name and size in bytes, whatever the
// view's own prefix and device. It is how the replicas of a data-parallel
// step, each built under its own scope on its own worker, share one set of
// variables on the parameter servers: a variable a replica makes under
// "replica_1/conv1/kernel" is "conv1/kernel" on "/job:ps/task:0". Reads
// and updates of the variable stay where the view that adds them says.
func (g *Graph) PlaceVariables(strip string, device func(name string, bytes int64) string) *Graph {
	c := *g
	c.home = &varHome{strip: strip, device: device}
	return &c
}

// variableView returns the view a variable named name in g is made in:
// g itself, or its variable home's.
func (g *Graph) variableView(name string, bytes int64) *Graph {
	v := &Graph{st: g.st, prefix: g.prefix, device: g.device}
	if g.home != nil {
		v.prefix = strings.TrimPrefix(g.prefix, g.home.strip)
		v.device = g.home.device(v.prefix+name, bytes)
	}
	return v
}
