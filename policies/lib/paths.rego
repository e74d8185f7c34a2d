# METADATA
# title: field paths
# description: Helpers that build field paths in the object as submitted.
package microguard.lib

# key returns ".name" for a plain key and ["a.b/c"] for a key that needs quoting,
# so that labels such as app.kubernetes.io/name make unambiguous paths.
key(k) := sprintf(".%s", [k]) if regex.match(`^[A-Za-z_][A-Za-z0-9_-]*$`, k)

else := sprintf("[%q]", [k])

# join appends key k to path p.
join(p, k) := concat("", [p, key(k)])

# describe names the submitted object for messages: Deployment "web".
describe := sprintf("%s %q", [input.kind.kind, input.name])

# labels of a metadata object, empty when absent.
labels(meta) := object.get(meta, "labels", {})

# item appends list index i to path p: item("spec.containers", 0) is spec.containers[0].
item(p, i) := sprintf("%s[%d]", [p, i])
