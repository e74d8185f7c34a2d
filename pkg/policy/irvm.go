package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// A plan evaluator: it runs the query plan (OPA's intermediate
// representation, ir.Policy) that OPA's planner compiles the policies
// into, with the statements' meaning that OPA's Wasm compiler gives them
// (internal/compiler/wasm), on the input as admission decodes it (Go maps
// and slices, see irvalue.go), so that a request's input is never
// converted to OPA values. The built-in functions it calls are OPA's own
// (topdown's implementations), apart from the few simple ones it answers
// itself (irbuiltin.go). A plan that uses anything it does not know (a
// statement, a non-deterministic built-in function, with) is refused when
// the engine is made, and the engine evaluates with topdown instead.

// irProgram is a plan made ready to evaluate, shared by every evaluation.
type irProgram struct {
	strings []any // the plan's string constants
	numbers []any // the number constants, by their index among strings
	funcs   []*irFunc
	tree    *irNode // the functions by path, for CallDynamicStmt
	plan    *ir.Plan
	nlocals int
	calls   map[*ir.CallStmt]irCallee
	// evals are evaluations done with, for their memo and stack.
	evals sync.Pool
}

type irFunc struct {
	index   int
	name    string
	params  []ir.Local
	ret     ir.Local
	blocks  []*ir.Block
	nlocals int
	// memo: the function takes the input and the data only (a rule, not
	// a function with arguments), so its value is computed once per
	// evaluation.
	memo bool
	// free: it reads the input only to pass it on to functions that are
	// free too.
	free bool
	// constant: a free rule, whose value depends on the data alone (the
	// config, fixed for the engine's life): computed once for every
	// evaluation.
	constant bool
	once     sync.Once
	value    any
	err      error
}

// irCallee is what a CallStmt calls: a function of the plan or a built-in.
type irCallee struct {
	fn      *irFunc
	builtin irBuiltin
}

type irNode struct {
	fn       *irFunc
	children map[string]*irNode
}

var errIRUnsupported = errors.New("unsupported by the plan evaluator")

// newIRProgram checks that every statement and built-in function of p is
// one the evaluator knows, and indexes its functions.
func newIRProgram(p *ir.Policy) (*irProgram, error) {
	if p.Plans == nil || len(p.Plans.Plans) != 1 {
		return nil, fmt.Errorf("%w: want one plan", errIRUnsupported)
	}
	prog := &irProgram{tree: &irNode{}, plan: p.Plans.Plans[0], calls: map[*ir.CallStmt]irCallee{}}
	for _, s := range p.Static.Strings {
		prog.strings = append(prog.strings, s.Value)
	}
	prog.numbers = make([]any, len(prog.strings))
	byName := map[string]*irFunc{}
	if p.Funcs != nil {
		for i, f := range p.Funcs.Funcs {
			fn := &irFunc{index: i, name: f.Name, params: f.Params, ret: f.Return, blocks: f.Blocks,
				memo: len(f.Params) == 2 && f.Params[0] == ir.Input && f.Params[1] == ir.Data}
			prog.funcs = append(prog.funcs, fn)
			byName[f.Name] = fn
			if len(f.Path) > 0 {
				n := prog.tree
				for _, seg := range f.Path {
					if n.children == nil {
						n.children = map[string]*irNode{}
					}
					c := n.children[seg]
					if c == nil {
						c = &irNode{}
						n.children[seg] = c
					}
					n = c
				}
				n.fn = fn
			}
		}
	}
	builtins := map[string]bool{}
	for _, b := range p.Static.BuiltinFuncs {
		builtins[b.Name] = true
	}
	var check func(b *ir.Block, top *int) error
	check = func(b *ir.Block, top *int) error {
		for _, s := range b.Stmts {
			m, ok := irMentionsOf(s)
			if !ok {
				return fmt.Errorf("%w: statement %T", errIRUnsupported, s)
			}
			for _, l := range m.locals {
				*top = max(*top, int(l))
			}
			for _, o := range m.ops {
				if l, ok := o.Value.(ir.Local); ok {
					*top = max(*top, int(l))
				}
			}
			for _, nb := range m.blocks {
				if err := check(nb, top); err != nil {
					return err
				}
			}
			switch s := s.(type) {
			case *ir.CallStmt:
				if fn := byName[s.Func]; fn != nil {
					prog.calls[s] = irCallee{fn: fn}
					continue
				}
				if !builtins[s.Func] {
					return fmt.Errorf("%w: call of %s", errIRUnsupported, s.Func)
				}
				bi, err := builtinFor(s.Func)
				if err != nil {
					return err
				}
				prog.calls[s] = irCallee{builtin: bi}
			case *ir.MakeNumberRefStmt:
				if s.Index < 0 || s.Index >= len(prog.strings) {
					return fmt.Errorf("%w: number constant %d", errIRUnsupported, s.Index)
				}
				n, err := irNumber(prog.strings[s.Index].(string))
				if err != nil {
					return fmt.Errorf("%w: %w", errIRUnsupported, err)
				}
				prog.numbers[s.Index] = n
			}
		}
		return nil
	}
	for _, f := range prog.funcs {
		top := int(f.ret)
		for _, p := range f.params {
			top = max(top, int(p))
		}
		for _, b := range f.blocks {
			if err := check(b, &top); err != nil {
				return nil, fmt.Errorf("function %s: %w", f.name, err)
			}
		}
		f.nlocals = top + 1
	}
	top := int(ir.Data)
	for _, b := range prog.plan.Blocks {
		if err := check(b, &top); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
	}
	prog.nlocals = top + 1
	prog.markConstants()
	return prog, nil
}

// irMentions is what a statement reads and writes: its operands, its
// locals and the blocks it holds.
type irMentions struct {
	ops    []ir.Operand
	locals []ir.Local
	blocks []*ir.Block
}

// irMentionsOf lists what s mentions; ok is false for a statement the
// evaluator does not run (stmt has a case for every one listed here).
func irMentionsOf(s ir.Stmt) (m irMentions, ok bool) {
	ops := func(o ...ir.Operand) { m.ops = append(m.ops, o...) }
	locals := func(l ...ir.Local) { m.locals = append(m.locals, l...) }
	switch s := s.(type) {
	case *ir.CallStmt:
		ops(s.Args...)
		locals(s.Result)
	case *ir.CallDynamicStmt:
		ops(s.Path...)
		locals(s.Args...)
		locals(s.Result)
	case *ir.BlockStmt:
		m.blocks = s.Blocks
	case *ir.ScanStmt:
		locals(s.Source, s.Key, s.Value)
		m.blocks = []*ir.Block{s.Block}
	case *ir.NotStmt:
		m.blocks = []*ir.Block{s.Block}
	case *ir.BreakStmt, *ir.NopStmt:
	case *ir.ReturnLocalStmt:
		locals(s.Source)
	case *ir.DotStmt:
		ops(s.Source, s.Key)
		locals(s.Target)
	case *ir.LenStmt:
		ops(s.Source)
		locals(s.Target)
	case *ir.AssignVarStmt:
		ops(s.Source)
		locals(s.Target)
	case *ir.AssignVarOnceStmt:
		ops(s.Source)
		locals(s.Target)
	case *ir.EqualStmt:
		ops(s.A, s.B)
	case *ir.NotEqualStmt:
		ops(s.A, s.B)
	case *ir.IsArrayStmt:
		ops(s.Source)
	case *ir.IsObjectStmt:
		ops(s.Source)
	case *ir.IsSetStmt:
		ops(s.Source)
	case *ir.ArrayAppendStmt:
		ops(s.Value)
		locals(s.Array)
	case *ir.ObjectInsertStmt:
		ops(s.Key, s.Value)
		locals(s.Object)
	case *ir.ObjectInsertOnceStmt:
		ops(s.Key, s.Value)
		locals(s.Object)
	case *ir.SetAddStmt:
		ops(s.Value)
		locals(s.Set)
	case *ir.AssignIntStmt:
		locals(s.Target)
	case *ir.ResetLocalStmt:
		locals(s.Target)
	case *ir.MakeNullStmt:
		locals(s.Target)
	case *ir.MakeNumberIntStmt:
		locals(s.Target)
	case *ir.MakeNumberRefStmt:
		locals(s.Target)
	case *ir.MakeArrayStmt:
		locals(s.Target)
	case *ir.MakeObjectStmt:
		locals(s.Target)
	case *ir.MakeSetStmt:
		locals(s.Target)
	case *ir.IsDefinedStmt:
		locals(s.Source)
	case *ir.IsUndefinedStmt:
		locals(s.Source)
	case *ir.ResultSetAddStmt:
		locals(s.Value)
	default:
		return m, false
	}
	return m, true
}

// markConstants finds the functions that do not read the input (they
// pass it on, if at all, only to such functions, and make no dynamic
// call), and among them the rules, whose value is then the data's alone.
func (prog *irProgram) markConstants() {
	for _, f := range prog.funcs {
		f.free = true
	}
	for changed := true; changed; {
		changed = false
		for _, f := range prog.funcs {
			if f.free && !prog.inputFree(f) {
				f.free, changed = false, true
			}
		}
	}
	for _, f := range prog.funcs {
		f.constant = f.memo && f.free
	}
}

// inputFree: f mentions the input only as the first argument of calls of
// free functions (which is how every rule is called), makes no dynamic
// call, and runs only statements the evaluator knows.
func (prog *irProgram) inputFree(f *irFunc) bool {
	isInput := func(o ir.Operand) bool { l, ok := o.Value.(ir.Local); return ok && l == ir.Input }
	var free func(b *ir.Block) bool
	free = func(b *ir.Block) bool {
		for _, s := range b.Stmts {
			m, ok := irMentionsOf(s)
			if !ok {
				return false
			}
			switch s := s.(type) {
			case *ir.CallDynamicStmt:
				return false
			case *ir.CallStmt:
				callee := prog.calls[s]
				for i, a := range s.Args {
					if isInput(a) && (callee.fn == nil || !callee.fn.free || i != 0) {
						return false
					}
				}
				if s.Result == ir.Input {
					return false
				}
				continue
			}
			for _, o := range m.ops {
				if isInput(o) {
					return false
				}
			}
			if slices.Contains(m.locals, ir.Input) {
				return false
			}
			for _, nb := range m.blocks {
				if !free(nb) {
					return false
				}
			}
		}
		return true
	}
	for _, b := range f.blocks {
		if !free(b) {
			return false
		}
	}
	return true
}

// irRecovered is the error of a recovered panic.
func irRecovered(r any) error {
	switch r := r.(type) {
	case irPanic:
		return r.err
	case error:
		return fmt.Errorf("plan evaluator: %w", r)
	}
	return fmt.Errorf("plan evaluator: %v", r)
}

// irEval is one evaluation.
type irEval struct {
	prog     *irProgram
	ctx      context.Context
	data     any
	memo     []any
	memoDone []bool
	results  []any
	steps    int
	// stack holds the locals of the functions being run, one frame
	// after the other (frame, release).
	stack []any
	// cancel stops OPA's built-in functions when ctx is done (made at
	// the first one called, stopped when the evaluation ends).
	cancel     topdown.Cancel
	stopCancel func() bool
	// cache is the state OPA's built-in functions keep for one
	// evaluation, as topdown keeps it for one query (made at the first).
	cache builtins.Cache
}

// builtinCancel is the evaluation's cancel for OPA's built-in functions.
func (e *irEval) builtinCancel() topdown.Cancel {
	if e.cancel == nil {
		e.cancel = topdown.NewCancel()
		e.stopCancel = context.AfterFunc(e.ctx, e.cancel.Cancel)
	}
	return e.cancel
}

// Control signals of a statement or block: irNext runs the next
// statement; irReturn ends the function; n >= 0 leaves n more blocks
// than the current one (0: the current block ends, as an undefined
// statement ends it).
const (
	irNext   = -1
	irReturn = -2
)

// eval runs the plan on input and data and returns its result set. A
// value it cannot read, or a bug of the evaluator, is an error of this
// evaluation (EvaluateDocument then leaves the request to topdown), never
// a crash.
func (prog *irProgram) eval(ctx context.Context, input, data any) (_ []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = irRecovered(r)
		}
	}()
	e, _ := prog.evals.Get().(*irEval)
	if e == nil {
		e = &irEval{memo: make([]any, len(prog.funcs)), memoDone: make([]bool, len(prog.funcs))}
	}
	e.prog, e.ctx, e.data = prog, ctx, data
	defer func() {
		if e.stopCancel != nil {
			e.stopCancel()
		}
		// Back to the pool with nothing of this request in it; a panic
		// may have left frames on the stack.
		clear(e.memo)
		clear(e.memoDone)
		clear(e.stack[:cap(e.stack)])
		*e = irEval{memo: e.memo, memoDone: e.memoDone, stack: e.stack[:0]}
		prog.evals.Put(e)
	}()
	fr := e.frame(prog.nlocals)
	fr[ir.Input], fr[ir.Data] = input, data
	for _, b := range prog.plan.Blocks {
		s, err := e.block(fr, b)
		if err != nil {
			return nil, err
		}
		if s >= 1 || s == irReturn {
			break
		}
	}
	return e.results, nil
}

func (e *irEval) read(fr []any, o ir.Operand) any {
	switch v := o.Value.(type) {
	case ir.Local:
		return fr[v]
	case ir.StringIndex:
		return e.prog.strings[v]
	case ir.Bool:
		return bool(v)
	}
	return nil
}

func (e *irEval) block(fr []any, b *ir.Block) (int, error) {
	for _, s := range b.Stmts {
		sig, err := e.stmt(fr, s)
		if err != nil {
			return 0, err
		}
		if sig != irNext {
			return sig, nil
		}
	}
	return irNext, nil
}

// nested runs a block that has a label of its own (a block of a
// BlockStmt): the signal for the block that holds it.
func nested(sig int) int {
	switch {
	case sig == irReturn:
		return irReturn
	case sig >= 1:
		return sig - 1
	}
	return irNext
}

func (e *irEval) stmt(fr []any, s ir.Stmt) (int, error) {
	switch s := s.(type) {
	case *ir.DotStmt:
		src, ok := s.Source.Value.(ir.Local)
		if !ok {
			return 0, nil
		}
		v := irGet(fr[src], e.read(fr, s.Key))
		if v == nil {
			return 0, nil
		}
		fr[s.Target] = v
	case *ir.AssignVarStmt:
		fr[s.Target] = e.read(fr, s.Source)
	case *ir.CallStmt:
		return e.call(fr, s)
	case *ir.ScanStmt:
		return e.scan(fr, s)
	case *ir.BlockStmt:
		for _, b := range s.Blocks {
			sig, err := e.block(fr, b)
			if err != nil {
				return 0, err
			}
			if sig = nested(sig); sig != irNext {
				return sig, nil
			}
		}
	case *ir.NotEqualStmt:
		if irEqual(e.read(fr, s.A), e.read(fr, s.B)) {
			return 0, nil
		}
	case *ir.EqualStmt:
		if !irEqual(e.read(fr, s.A), e.read(fr, s.B)) {
			return 0, nil
		}
	case *ir.IsDefinedStmt:
		if fr[s.Source] == nil {
			return 0, nil
		}
	case *ir.IsUndefinedStmt:
		if fr[s.Source] != nil {
			return 0, nil
		}
	case *ir.BreakStmt:
		return int(s.Index), nil
	case *ir.AssignVarOnceStmt:
		v := e.read(fr, s.Source)
		if cur := fr[s.Target]; cur != nil {
			if !irEqual(cur, v) {
				return 0, fmt.Errorf("eval_conflict_error: complete rules must not produce multiple outputs (%s)", location(s.Location))
			}
			return irNext, nil
		}
		fr[s.Target] = v
	case *ir.ReturnLocalStmt:
		fr[0] = fr[s.Source] // the caller reads the value from the frame's first slot
		return irReturn, nil
	case *ir.NotStmt:
		sig, err := e.block(fr, s.Block)
		if err != nil {
			return 0, err
		}
		switch {
		case sig == irReturn:
			return irReturn, nil
		case sig == irNext:
			return 0, nil // the negated block held: not is undefined
		case sig >= 1:
			return sig - 1, nil
		}
	case *ir.MakeObjectStmt:
		fr[s.Target] = &irObject{}
	case *ir.MakeArrayStmt:
		fr[s.Target] = &irArray{elems: make([]any, 0, max(0, s.Capacity))}
	case *ir.MakeSetStmt:
		fr[s.Target] = &irSet{}
	case *ir.MakeNullStmt:
		fr[s.Target] = irNull
	case *ir.MakeNumberIntStmt:
		fr[s.Target] = s.Value
	case *ir.MakeNumberRefStmt:
		fr[s.Target] = e.prog.numbers[s.Index]
	case *ir.AssignIntStmt:
		fr[s.Target] = s.Value
	case *ir.ResetLocalStmt:
		fr[s.Target] = nil
	case *ir.LenStmt:
		n := irLen(e.read(fr, s.Source))
		fr[s.Target] = int64(max(n, 0))
	case *ir.IsArrayStmt:
		switch e.read(fr, s.Source).(type) {
		case []any, *irArray:
		default:
			return 0, nil
		}
	case *ir.IsObjectStmt:
		switch e.read(fr, s.Source).(type) {
		case map[string]any, *irObject:
		default:
			return 0, nil
		}
	case *ir.IsSetStmt:
		if _, ok := e.read(fr, s.Source).(*irSet); !ok {
			return 0, nil
		}
	case *ir.ArrayAppendStmt:
		a, ok := fr[s.Array].(*irArray)
		if !ok {
			return 0, fmt.Errorf("plan appends to %T, not an array it made", fr[s.Array])
		}
		a.elems = append(a.elems, e.read(fr, s.Value))
	case *ir.ObjectInsertStmt:
		o, ok := fr[s.Object].(*irObject)
		if !ok {
			return 0, fmt.Errorf("plan inserts into %T, not an object it made", fr[s.Object])
		}
		o.insert(e.read(fr, s.Key), e.read(fr, s.Value))
	case *ir.ObjectInsertOnceStmt:
		o, ok := fr[s.Object].(*irObject)
		if !ok {
			return 0, fmt.Errorf("plan inserts into %T, not an object it made", fr[s.Object])
		}
		k, v := e.read(fr, s.Key), e.read(fr, s.Value)
		if i := o.find(k); i >= 0 {
			if !irEqual(o.vals[i], v) {
				return 0, fmt.Errorf("eval_conflict_error: object keys must be unique (%s)", location(s.Location))
			}
			return irNext, nil
		}
		o.insert(k, v)
	case *ir.SetAddStmt:
		set, ok := fr[s.Set].(*irSet)
		if !ok {
			return 0, fmt.Errorf("plan adds to %T, not a set it made", fr[s.Set])
		}
		set.add(e.read(fr, s.Value))
	case *ir.ResultSetAddStmt:
		e.results = append(e.results, fr[s.Value])
	case *ir.CallDynamicStmt:
		return e.callDynamic(fr, s)
	case *ir.NopStmt:
	default:
		// Unreachable: newIRProgram refuses a plan with any statement
		// not run above.
		return 0, fmt.Errorf("%w: statement %T", errIRUnsupported, s)
	}
	return irNext, nil
}

func location(l ir.Location) string { return fmt.Sprintf("row %d, col %d", l.Row, l.Col) }

// scan runs s's block for every member of its source, in OPA's order. Its
// block's label is the loop's (0 goes on with the next member), and the
// loop has one around it (1 ends the scan).
func (e *irEval) scan(fr []any, s *ir.ScanStmt) (int, error) {
	body := func(k, v any) (int, bool, error) {
		if err := e.tick(); err != nil {
			return 0, true, err
		}
		fr[s.Key], fr[s.Value] = k, v
		sig, err := e.block(fr, s.Block)
		if err != nil {
			return 0, true, err
		}
		switch {
		case sig == irReturn:
			return irReturn, true, nil
		case sig == 1:
			return irNext, true, nil
		case sig >= 2:
			return sig - 2, true, nil
		}
		return irNext, false, nil
	}
	switch src := fr[s.Source].(type) {
	case []any:
		for i, v := range src {
			if sig, stop, err := body(int64(i), irElem(v)); stop {
				return sig, err
			}
		}
	case *irArray:
		for i := 0; i < len(src.elems); i++ {
			if sig, stop, err := body(int64(i), src.elems[i]); stop {
				return sig, err
			}
		}
	case map[string]any:
		for _, k := range irSortedKeys(src) {
			if sig, stop, err := body(k, irElem(src[k.(string)])); stop {
				return sig, err
			}
		}
	case *irObject:
		src.sort()
		keys, vals := src.keys, src.vals
		for i := range keys {
			if sig, stop, err := body(keys[i], vals[i]); stop {
				return sig, err
			}
		}
	case *irSet:
		elems := src.sortedElems()
		for _, v := range elems {
			if sig, stop, err := body(v, v); stop {
				return sig, err
			}
		}
	}
	return irNext, nil
}

// tick checks, every so often, that the evaluation may go on.
func (e *irEval) tick() error {
	e.steps++
	if e.steps&255 == 0 {
		if err := e.ctx.Err(); err != nil {
			return fmt.Errorf("evaluation stopped: %w", err)
		}
	}
	return nil
}

func (e *irEval) call(fr []any, s *ir.CallStmt) (int, error) {
	callee := e.prog.calls[s]
	var buf [6]any
	args := buf[:0]
	for _, a := range s.Args {
		args = append(args, e.read(fr, a))
	}
	var v any
	var err error
	if callee.fn != nil {
		v, err = e.callFunc(callee.fn, args)
	} else {
		v, err = callee.builtin(e, args)
	}
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	fr[s.Result] = v
	return irNext, nil
}

// callDynamic calls the function at s's path; with no function there, the
// block ends (the plan then looks the path up in the data), and a function
// that is undefined leaves three blocks (the planner's structure for it).
func (e *irEval) callDynamic(fr []any, s *ir.CallDynamicStmt) (int, error) {
	n := e.prog.tree
	for _, p := range s.Path {
		k, ok := e.read(fr, p).(string)
		if !ok || n.children == nil {
			return 0, nil
		}
		if n = n.children[k]; n == nil {
			return 0, nil
		}
	}
	if n.fn == nil {
		return 0, nil
	}
	var buf [6]any
	args := buf[:0]
	for _, a := range s.Args {
		args = append(args, fr[a])
	}
	v, err := e.callFunc(n.fn, args)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 3, nil
	}
	fr[s.Result] = v
	return irNext, nil
}

func (e *irEval) callFunc(f *irFunc, args []any) (any, error) {
	if f.constant {
		f.once.Do(func() {
			// The data alone decides it: evaluated without this
			// request's input, and frozen, as every evaluation shares it.
			defer func() {
				if r := recover(); r != nil {
					f.value, f.err = nil, irRecovered(r)
				}
			}()
			ce := &irEval{prog: e.prog, ctx: context.Background(), data: e.data,
				memo: make([]any, len(e.prog.funcs)), memoDone: make([]bool, len(e.prog.funcs))}
			f.value, f.err = ce.run(f, []any{nil, ce.data})
			irFreeze(f.value)
		})
		return f.value, f.err
	}
	if f.memo {
		if e.memoDone[f.index] {
			return e.memo[f.index], nil
		}
		v, err := e.run(f, args)
		if err != nil {
			return nil, err
		}
		e.memo[f.index], e.memoDone[f.index] = v, true
		return v, nil
	}
	return e.run(f, args)
}

// run runs f's blocks; each but the last has a label of its own, and a
// break out of the function's own level returns.
func (e *irEval) run(f *irFunc, args []any) (any, error) {
	if err := e.tick(); err != nil {
		return nil, err
	}
	fr := e.frame(f.nlocals)
	defer e.release(f.nlocals)
	for i, p := range f.params {
		fr[p] = args[i]
	}
	for _, b := range f.blocks {
		sig, err := e.block(fr, b)
		if err != nil {
			return nil, err
		}
		if sig == irReturn {
			return fr[0], nil
		}
		if sig >= 1 {
			break
		}
	}
	return fr[f.ret], nil
}

// frame is n undefined locals on the evaluation's stack, until release(n).
// A caller's frame stays where it was when the stack grows: each frame is
// read only through its own slice.
func (e *irEval) frame(n int) []any {
	top := len(e.stack)
	if cap(e.stack)-top < n {
		e.stack = make([]any, top, max(2*cap(e.stack), top+n, 64))
	}
	e.stack = e.stack[:top+n]
	fr := e.stack[top : top+n : top+n]
	clear(fr)
	return fr
}

func (e *irEval) release(n int) {
	top := len(e.stack) - n
	clear(e.stack[top:])
	e.stack = e.stack[:top]
}

// irFreeze sorts every object and set in v, so that reading it never
// changes it (the values of constant rules are shared by evaluations
// that run at once).
func irFreeze(v any) {
	switch v := v.(type) {
	case *irArray:
		for _, x := range v.elems {
			irFreeze(x)
		}
	case *irObject:
		v.sort()
		for _, x := range v.vals {
			irFreeze(x)
		}
		for _, x := range v.keys {
			irFreeze(x)
		}
	case *irSet:
		for _, x := range v.sortedElems() {
			irFreeze(x)
		}
	}
}
