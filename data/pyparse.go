package data

import (
	"fmt"
	"strconv"
	"strings"
)

// pyParser parses the Python literals of an .npy header: a dictionary of
// string keys whose values are strings, True, False or tuples of
// non-negative integers.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat skips space and then c, reporting whether c was there.
func (p *pyParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.i}, args...)...)
}

func (p *pyParser) dict() (map[string]any, error) {
	if !p.eat('{') {
		return nil, p.errorf("want a dictionary {...}")
	}
	out := map[string]any{}
	for !p.eat('}') {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, p.errorf("key %q appears twice", key)
		}
		if !p.eat(':') {
			return nil, p.errorf("want ':' after key %q", key)
		}
		if out[key], err = p.value(); err != nil {
			return nil, err
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return nil, p.errorf("want ',' or '}'")
			}
			break
		}
	}
	return out, nil
}

func (p *pyParser) value() (any, error) {
	p.space()
	switch {
	case p.i >= len(p.s):
		return nil, p.errorf("the header ends where a value should be")
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case p.s[p.i] == '(':
		return p.tuple()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return nil, p.errorf("unsupported value %q", clip(p.s[p.i:], 20))
}

// str parses a quoted string without escapes (dtype strings have none).
func (p *pyParser) str() (string, error) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.errorf("want a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	s := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(s, '\\') >= 0 {
		return "", p.errorf("string with escapes")
	}
	p.i += end + 2
	return s, nil
}

func (p *pyParser) tuple() ([]uint64, error) {
	if !p.eat('(') {
		return nil, p.errorf("want a tuple (...)")
	}
	out := []uint64{}
	for !p.eat(')') {
		p.space()
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		d, err := strconv.ParseUint(p.s[start:p.i], 10, 63)
		if err != nil {
			return nil, p.errorf("shape entry %q is not a non-negative integer", clip(p.s[start:], 20))
		}
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2's long
			p.i++
		}
		out = append(out, d)
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, p.errorf("want ',' or ')' in the shape")
			}
			break
		}
	}
	return out, nil
}
