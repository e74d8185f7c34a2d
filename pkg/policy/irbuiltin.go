package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// irBuiltin is a built-in function as the plan evaluator calls it: its
// value, or nil when it is undefined.
type irBuiltin func(e *irEval, args []any) (any, error)

// irNative are the built-in functions the evaluator answers itself, for
// the arguments they take most often; for any other argument they give
// way to OPA's implementation (delegated), which gives OPA's value or
// error.
var irNative = map[string]func(args []any) (any, bool){
	"count": func(args []any) (any, bool) {
		if s, ok := args[0].(string); ok {
			return int64(utf8.RuneCountInString(s)), true
		}
		if n := irLen(args[0]); n >= 0 {
			return int64(n), true
		}
		return nil, false
	},
	"equal": func(args []any) (any, bool) { return irEqual(args[0], args[1]), true },
	"neq":   func(args []any) (any, bool) { return !irEqual(args[0], args[1]), true },
	"gt":    func(args []any) (any, bool) { return irCompare(args[0], args[1]) > 0, true },
	"gte":   func(args []any) (any, bool) { return irCompare(args[0], args[1]) >= 0, true },
	"lt":    func(args []any) (any, bool) { return irCompare(args[0], args[1]) < 0, true },
	"lte":   func(args []any) (any, bool) { return irCompare(args[0], args[1]) <= 0, true },
	"is_string": func(args []any) (any, bool) {
		_, ok := args[0].(string)
		return ok, true
	},
	"is_boolean": func(args []any) (any, bool) {
		_, ok := args[0].(bool)
		return ok, true
	},
	"is_number": func(args []any) (any, bool) {
		switch args[0].(type) {
		case int64, float64:
			return true, true
		}
		return false, true
	},
	"is_object": func(args []any) (any, bool) {
		switch args[0].(type) {
		case map[string]any, *irObject:
			return true, true
		}
		return false, true
	},
	"is_array": func(args []any) (any, bool) {
		switch args[0].(type) {
		case []any, *irArray:
			return true, true
		}
		return false, true
	},
	"is_set": func(args []any) (any, bool) {
		_, ok := args[0].(*irSet)
		return ok, true
	},
	"internal.member_2": func(args []any) (any, bool) {
		is := func(e any) bool { return irEqual(irElem(e), args[0]) }
		switch c := args[1].(type) {
		case []any, *irArray:
			return slices.ContainsFunc(irElems(c), is), true
		case map[string]any:
			for _, e := range c {
				if is(e) {
					return true, true
				}
			}
		case *irObject:
			return slices.ContainsFunc(c.vals, is), true
		case *irSet:
			return c.find(args[0]) >= 0, true
		}
		return false, true
	},
	"object.get": func(args []any) (any, bool) {
		switch args[0].(type) {
		case map[string]any, *irObject:
		default:
			return nil, false
		}
		switch args[1].(type) {
		case []any, *irArray:
			return nil, false // a path: OPA's
		}
		if v := irGet(args[0], args[1]); v != nil {
			return v, true
		}
		return args[2], true
	},
	"concat": func(args []any) (any, bool) {
		sep, ok := args[0].(string)
		if !ok {
			return nil, false
		}
		var elems []any
		switch c := args[1].(type) {
		case []any:
			elems = c
		case *irArray:
			elems = c.elems
		case *irSet:
			elems = c.sortedElems()
		default:
			return nil, false
		}
		var b strings.Builder
		for i, e := range elems {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(s)
		}
		return b.String(), true
	},
	"startswith": irStrings(strings.HasPrefix),
	"endswith":   irStrings(strings.HasSuffix),
	"contains":   irStrings(strings.Contains),
	// sprintf as OPA's builtinSprintf formats strings and numbers (a
	// number written without '.', 'e' or 'E' as an integer); any other
	// argument (OPA writes it as Rego) is OPA's.
	"sprintf": func(args []any) (any, bool) {
		format, ok := args[0].(string)
		elems, ok2 := irArrayElems(args[1])
		if !ok || !ok2 {
			return nil, false
		}
		var buf [8]any
		fargs := buf[:0]
		for _, e := range elems {
			switch e := irElem(e).(type) {
			case string, int64:
				fargs = append(fargs, e)
			case float64:
				text := strconv.FormatFloat(e, 'g', -1, 64)
				if strings.ContainsAny(text, ".eE") {
					fargs = append(fargs, e)
				} else if i, err := strconv.ParseInt(text, 10, 64); err == nil {
					fargs = append(fargs, i)
				} else {
					return nil, false
				}
			default:
				return nil, false
			}
		}
		return fmt.Sprintf(format, fargs...), true
	},
	"array.concat": func(args []any) (any, bool) {
		a, ok1 := irArrayElems(args[0])
		b, ok2 := irArrayElems(args[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out := &irArray{elems: make([]any, 0, len(a)+len(b))}
		for _, e := range a {
			out.elems = append(out.elems, irElem(e))
		}
		for _, e := range b {
			out.elems = append(out.elems, irElem(e))
		}
		return out, true
	},
}

// irStrings is a built-in function of two strings that f answers; other
// arguments are OPA's (its type error).
func irStrings(f func(s, t string) bool) func(args []any) (any, bool) {
	return func(args []any) (any, bool) {
		s, ok1 := args[0].(string)
		t, ok2 := args[1].(string)
		return f(s, t), ok1 && ok2
	}
}

// irNotPure are deterministic built-in functions that still reach outside
// the evaluation (printing, tracing, the runtime's own state): a plan that
// calls one evaluates with topdown.
var irNotPure = map[string]bool{"print": true, "internal.print": true, "trace": true, "opa.runtime": true}

// builtinFor is how the evaluator calls the built-in function name: its
// own answer where it has one, OPA's implementation otherwise. A
// non-deterministic function (time, randomness, HTTP, ...) is refused.
func builtinFor(name string) (irBuiltin, error) {
	decl, ok := ast.BuiltinMap[name]
	impl := topdown.GetBuiltin(name)
	if !ok || impl == nil || decl.Nondeterministic || irNotPure[name] || decl.Decl == nil || decl.Decl.Result() == nil {
		return nil, fmt.Errorf("%w: built-in function %s", errIRUnsupported, name)
	}
	relation := decl.Relation
	native := irNative[name]
	delegated := func(e *irEval, args []any) (any, error) {
		ops := make([]*ast.Term, len(args))
		for i, a := range args {
			v, err := irToAST(a)
			if err != nil {
				return nil, err
			}
			ops[i] = ast.NewTerm(v)
		}
		var results []any
		if e.cache == nil {
			e.cache = builtins.Cache{}
		}
		bctx := topdown.BuiltinContext{Context: e.ctx, Cache: e.cache, Cancel: e.builtinCancel()}
		err := impl(bctx, ops, func(t *ast.Term) error {
			v, err := irFromAST(t.Value)
			if err != nil {
				return err
			}
			results = append(results, v)
			return nil
		})
		if err != nil {
			var halt topdown.Halt
			if errors.As(err, &halt) {
				return nil, halt.Err
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if relation {
			return &irArray{elems: results}, nil
		}
		if len(results) == 0 {
			return nil, nil
		}
		return results[0], nil
	}
	if native == nil {
		return delegated, nil
	}
	return func(e *irEval, args []any) (any, error) {
		if v, ok := native(args); ok {
			return v, nil
		}
		return delegated(e, args)
	}, nil
}
