// Command demo is `make demo`: it starts a real local control plane (etcd and
// kube-apiserver), serves microguard against it, registers both webhooks,
// applies the where2eat sample app with the real kubectl and shows what was
// admitted, mutated and denied, with the messages a developer would see.
// DEMO_KEEP=1 leaves everything running.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/microguard/microguard/pkg/verify/verifytest"
	"github.com/microguard/microguard/test/localcluster"
)

func main() {
	microguard := flag.String("microguard", "bin/microguard", "microguard binary")
	k8sBin := flag.String("k8s-bin", "bin/k8s", "directory with kube-apiserver, etcd and kubectl")
	examples := flag.String("examples", "examples/where2eat", "sample app: namespace.yaml, app/ (admitted) and broken/ (denied)")
	config := flag.String("config", "examples/config.yaml", "microguard config")
	crds := flag.String("crds", "test/e2e/testdata/crds", "CustomResourceDefinitions to install (object-storage kinds)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *microguard, *k8sBin, *examples, *config, *crds); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func section(title string) { fmt.Printf("\n== %s\n", title) }

func run(ctx context.Context, microguard, k8sBin, examples, config, crds string) error {
	section("offline: what `microguard check` says in CI, before anything reaches a cluster")
	check := exec.CommandContext(ctx, microguard, "check", "--config", config, "-f", examples)
	check.Stdout, check.Stderr = os.Stdout, os.Stderr
	if err := check.Run(); err == nil {
		return fmt.Errorf("microguard check admitted every example; the broken ones must be denied")
	}

	section("starting a local control plane, an OCI registry on loopback and microguard")
	dir, err := os.MkdirTemp("", "microguard-demo-")
	if err != nil {
		return err
	}
	keep := os.Getenv("DEMO_KEEP") == "1"
	images := &verifytest.Standalone{}
	defer images.Close()
	sig, err := startSignatures(images, dir, config)
	if err != nil {
		return err
	}
	decisions := filepath.Join(dir, "decisions.db")
	cluster, err := localcluster.Start(ctx, localcluster.Options{K8sBin: k8sBin, Microguard: microguard, Config: sig.config, Dir: dir, Log: os.Stdout, CRDDirs: []string{crds}, DecisionLog: decisions})
	if err != nil {
		return err
	}
	defer func() {
		if keep {
			return
		}
		section("tearing down")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping:", err)
		}
		os.RemoveAll(dir)
	}()
	kubectl := func(args ...string) (string, string, error) {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return cluster.Kubectl(c, nil, args...)
	}

	section("kubectl apply -f namespace.yaml")
	out, errOut, err := kubectl("apply", "-f", filepath.Join(examples, "namespace.yaml"))
	fmt.Print(out, errOut)
	if err != nil {
		return fmt.Errorf("namespace not created: %w", err)
	}
	// A cluster's controller makes the namespace's default service account;
	// the API server gives each pod its token volume from it.
	if err := cluster.DefaultServiceAccount(ctx, "where2eat"); err != nil {
		return err
	}

	var admitted, denied, unexpected []string
	for _, f := range files(filepath.Join(examples, "app")) {
		section("kubectl apply -f " + f + "   (expected: admitted)")
		out, errOut, err := kubectl("apply", "-f", f)
		fmt.Print(indent(out + errOut))
		if err != nil {
			unexpected = append(unexpected, f+" was denied")
			continue
		}
		admitted = append(admitted, f)
	}
	for _, f := range files(filepath.Join(examples, "broken")) {
		section("kubectl apply -f " + f + "   (expected: denied)")
		out, errOut, err := kubectl("apply", "-f", f)
		fmt.Print(indent(out + errOut))
		if err == nil {
			unexpected = append(unexpected, f+" was admitted")
			continue
		}
		denied = append(denied, f)
	}

	section("kubectl debug smoke-test --profile=sysadmin   (a privileged ephemeral container; expected: denied)")
	out, errOut, err = kubectl("debug", "smoke-test", "-n", "where2eat", "--image=registry.example/where2eat/toolbox:1.0", "--profile=sysadmin", "--container=debugger")
	fmt.Print(indent(out + errOut))
	if err == nil {
		unexpected = append(unexpected, "a privileged ephemeral container was admitted")
	} else {
		denied = append(denied, "kubectl debug --profile=sysadmin")
	}

	for _, step := range sig.steps() {
		section(step.title)
		out, errOut, err := cluster.Kubectl(ctx, strings.NewReader(step.manifest), "apply", "-f", "-")
		fmt.Print(indent(out + errOut))
		switch {
		case step.admit && err != nil:
			unexpected = append(unexpected, step.title+": denied")
		case !step.admit && err == nil:
			unexpected = append(unexpected, step.title+": admitted")
		case step.admit:
			admitted = append(admitted, step.name)
		default:
			denied = append(denied, step.name)
		}
	}
	section("pinned: the signed image runs by the digest that was verified")
	out, errOut, err = kubectl("get", "pod", "signed-menu", "-n", "where2eat", "-o", "jsonpath={.spec.containers[0].image}")
	fmt.Print(indent(out + errOut))
	if err != nil || !strings.Contains(out, "@sha256:") {
		unexpected = append(unexpected, "the signed image was not pinned to its digest")
	}

	section("mutated: the pods microguard changed (annotation microguard.io/mutations)")
	out, errOut, err = kubectl("get", "pods", "-n", "where2eat", "-o",
		`custom-columns=POD:.metadata.name,MUTATIONS:.metadata.annotations.microguard\.io/mutations,OWNER:.metadata.labels.owner,TEAM:.metadata.labels.team,COST-CENTER:.metadata.labels.cost-center,ENV:.metadata.labels.env,REQUESTS:.spec.containers[0].resources.requests,LIMITS:.spec.containers[0].resources.limits`)
	fmt.Print(indent(out + errOut))
	if err != nil || !strings.Contains(out, "cost-tags") {
		unexpected = append(unexpected, "no pod carries the cost-tags mutation")
	}

	section("audit: every answer above is in the decision log; export it and verify the hash chain")
	export := filepath.Join(dir, "decisions.jsonl")
	for _, args := range [][]string{
		{"decisions", "export", "--decision-log", decisions, "-o", export},
		{"decisions", "verify", "-f", export},
		{"decisions", "export", "--decision-log", decisions, "--namespace", "where2eat", "--allowed", "false", "--format", "csv"},
	} {
		fmt.Printf("  $ microguard %s\n", strings.Join(args, " "))
		out, err := exec.CommandContext(ctx, microguard, args...).CombinedOutput()
		fmt.Print(indent(string(out)))
		if err != nil {
			unexpected = append(unexpected, "microguard "+args[1]+" failed: "+err.Error())
		}
	}
	if data, err := os.ReadFile(export); err == nil {
		fmt.Printf("  %d lines exported to %s\n", strings.Count(string(data), "\n"), export)
	}

	section("summary")
	fmt.Printf("  admitted: %d   denied: %d   unexpected: %d\n", len(admitted), len(denied), len(unexpected))
	for _, u := range unexpected {
		fmt.Println("  UNEXPECTED:", u)
	}
	if keep {
		fmt.Printf("\nDEMO_KEEP=1: the control plane and microguard keep running.\n  export KUBECONFIG=%s\n  %s/kubectl get pods -A\nmicroguard log: %s\nPress Ctrl-C to stop.\n", cluster.Kubeconfig, k8sBin, cluster.MicroguardLog)
		<-ctx.Done()
		keep = false
	}
	if len(unexpected) > 0 {
		return fmt.Errorf("%d unexpected outcomes", len(unexpected))
	}
	return nil
}

func files(dir string) []string {
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}
