package localcluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// CPUSeconds reads a process's CPU time: it grows while the process works,
// and a process that does not exist is an error.
func TestCPUSeconds(t *testing.T) {
	before, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Work until the kernel has counted at least two of its 10 ms ticks.
	var after float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		x := 0
		for i := range 1_000_000 {
			x += i * i
		}
		_ = x
		if after, err = CPUSeconds(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after-before >= 0.02 {
			break
		}
	}
	if after-before < 0.02 {
		t.Fatalf("CPU time went from %.2f s to %.2f s after 10 s of work", before, after)
	}
	if _, err := CPUSeconds(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// fakeListener is a listener on port, as a fake kernel hands it out.
type fakeListener struct{ port int }

func (l fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port} }

// The port picker hands out distinct ports, none of those it is told to
// leave out and none it gave before, whatever the kernel offers: a
// restarted microguard keeps its webhook port, which is free at that
// moment, and its health and metrics ports must not be it (an e2e run once
// failed with "address already in use" so).
func TestPortPicker(t *testing.T) {
	for _, c := range []struct {
		name    string
		offered []int // the ports the kernel offers, in turn
		given   []int // handed out before
		n       int
		but     []int
		want    []int
	}{
		{"first offers", []int{7001, 7002}, nil, 2, nil, []int{7001, 7002}},
		{"offered twice", []int{7001, 7001, 7002}, nil, 2, nil, []int{7001, 7002}},
		{"left out", []int{7001, 7002, 7003}, nil, 2, []int{7001}, []int{7002, 7003}},
		{"handed out before", []int{7001, 7002, 7003}, []int{7002}, 2, nil, []int{7001, 7003}},
		{"all three", []int{7001, 7001, 7002, 7003, 7004}, []int{7003}, 2, []int{7002}, []int{7001, 7004}},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := 0
			pp := &portPicker{given: map[int]bool{}, listen: func() (net.Listener, error) {
				if next == len(c.offered) {
					return nil, errors.New("no more ports")
				}
				next++
				return fakeListener{c.offered[next-1]}, nil
			}}
			for _, p := range c.given {
				pp.given[p] = true
			}
			got, err := pp.pick(c.n, c.but...)
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("pick(%d, %v) = %v, %v; want %v", c.n, c.but, got, err, c.want)
			}
			for _, p := range got {
				if !pp.given[p] {
					t.Errorf("port %d is not remembered as handed out", p)
				}
			}
		})
	}

	// The real picker's ports can be listened on.
	ports, err := loopbackPorts.pick(4)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

// volumes are the directories the chart mounts for microguard's flags.
func TestVolumes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--port", "9443"}, nil},
		{[]string{"--cert-dir", "/tls", "--decision-log=/var/lib/microguard/decisions.db"}, []string{"/tls", "/var/lib/microguard"}},
		{[]string{"--decision-log", dir}, []string{dir}},
		{[]string{"--cert-dir=/tls", "--decision-log", "postgres://u@db/decisions"}, []string{"/tls"}},
		{[]string{"--config", "/etc/microguard/config/config.yaml", "--decision-log"}, nil},
		{[]string{"--decision-log="}, nil},
	} {
		if got := volumes(c.args); !slices.Equal(got, c.want) {
			t.Errorf("volumes(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// A pod as a real API server sends it has the service account's token
// volume, mounted in every container.
func TestTokenVolume(t *testing.T) {
	token := corev1.Volume{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}
	mount := corev1.VolumeMount{Name: token.Name, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}
	pod := func(vols []corev1.Volume, mounts ...[]corev1.VolumeMount) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{Volumes: vols}}
		for i, m := range mounts {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), VolumeMounts: m})
		}
		return p
	}
	for _, tc := range []struct {
		name, wantErr string
		pod           *corev1.Pod
	}{
		{"mounted in every container", "", pod([]corev1.Volume{{Name: "data"}, token}, []corev1.VolumeMount{mount}, []corev1.VolumeMount{{Name: "data"}, mount})},
		{"no volume", "ServiceAccount admission", pod(nil, []corev1.VolumeMount{mount})},
		{"not projected", "ServiceAccount admission", pod([]corev1.Volume{{Name: token.Name}}, []corev1.VolumeMount{mount})},
		{"one container without the mount", `container "c1" does not mount kube-api-access-x7k2p`, pod([]corev1.Volume{token}, []corev1.VolumeMount{mount}, nil)},
	} {
		err := TokenVolume(tc.pod)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
