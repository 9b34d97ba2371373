// Package precision proves, against the real API server of the e2e control plane, the promise
// the advisor makes: a learned policy breaks nothing that ran, and lets nothing new and more
// privileged in. The corpus is the Pod Security Admission conformance fixtures that
// k8s.io/pod-security-admission ships (test/testdata/{baseline,restricted}/v1.N/{pass,fail},
// newest version directory, read from the module cache).
//
// Every figure is measured with server-side dry run (the pod goes through defaulting, the
// ServiceAccount plugin, validation and validating admission, and is not stored):
//
//   - self-admission: the ValidatingAdmissionPolicy learned from one fixture alone, bound with
//     [Deny] to a fresh namespace, admits that fixture (namespace scope: every fixture;
//     serviceaccount scope: a sample, where a pod of another service account is out of scope);
//   - escalation denial: the policy learned from the minimal restricted pod denies every fail
//     fixture of both levels;
//   - the same two figures for the vap-shared rendering (one policy, the learned values on the
//     Namespace), and shared agreement: for the policies learned from a sample of fixtures,
//     every fixture is admitted or denied alike by the vap and the vap-shared rendering;
//   - PSS agreement: the level `--format pss` recommends for a namespace holding only that pod
//     admits it under Pod Security admission, and the next stricter level rejects it;
//   - gatekeeper self-admission and escalation denial: the same two figures for the Gatekeeper
//     constraints, evaluated by gator (Gatekeeper's offline CLI, e2e/tools/gator) with the
//     gatekeeper-library's own templates, read from ../shared/third_party/gatekeeper-library
//     beside the repository (skipped where absent), under both of their engines (CEL, Rego), on
//     each fixture as a server-side dry-run create returns it. Escalations a template cannot
//     express are listed with their reason (gatekeeperGaps), and asserted exactly.
//
// The figures are printed (t.Logf and stdout; `go test -v` shows them). A fixture that misses
// a figure fails the test with its reason. A fixture the API server rejects even without any
// policy (upstream generates a few invalid fail fixtures on purpose, e.g. procMount Unmasked
// with hostUsers: true) can be neither admitted nor denied by a policy: it is left out of the
// figures and listed with the API server's reason. The tests create only their own namespaces
// and policies, delete them when done, and do not depend on any webhook.
//
// Run with `make e2e`, or against a running control plane:
//
//	make cluster-up
//	cd e2e && E2E_KUBECONFIG=$PWD/.cluster/admin.kubeconfig go test ./precision/ -v -count=1
package precision
