package microguard.policies.no_latest_tag_test

import data.microguard.policies.no_latest_tag

pod(image) := {"pods": [{"specPath": "spec.template.spec", "spec": {"containers": [{"name": "web", "image": image}]}}]}

test_latest_is_refused if {
	vs := no_latest_tag.violation with input as pod("registry.example/web:latest")
	some v in vs
	v.field == "spec.template.spec.containers[0].image"
	v.hint == "set spec.template.spec.containers[0].image to a versioned tag or digest, e.g. registry.example/web:1.2.3"
}

test_untagged_is_refused if {
	count(no_latest_tag.violation) == 1 with input as pod("registry.example:5000/web")
}

test_versions_and_digests_pass if {
	count(no_latest_tag.violation) == 0 with input as pod("registry.example/web:1.4.0")
	count(no_latest_tag.violation) == 0 with input as pod("registry.example/web@sha256:0123")
}
