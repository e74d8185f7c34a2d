package microguard.policies.public_storage_test

import data.microguard.policies.public_storage

cfg := {"policies": {"public-storage": {"action": "deny", "publicStorageClasses": ["shared-nfs"]}}}

claim(spec, class) := {
	"kind": {"group": "", "version": "v1", "kind": "PersistentVolumeClaim"},
	"name": "photos",
	"object": {"metadata": {"name": "photos"}, "spec": spec},
	"storageClass": class,
}

test_listed_class_is_denied if {
	vs := public_storage.violation with input as claim({"storageClassName": "shared-nfs"}, {"name": "shared-nfs", "annotations": {}, "default": false}) with data.microguard.config as cfg
	count(vs) == 1
	some v in vs
	v.rule == "public-storage-class"
	v.field == "spec.storageClassName"
	v.message == `PersistentVolumeClaim "photos" would store its data publicly: storage class "shared-nfs" is listed in publicStorageClasses`
	v.hint == `set spec.storageClassName to a private storage class (not "shared-nfs")`
}

test_listed_class_is_denied_even_when_unknown_to_the_cluster if {
	inp := json.remove(claim({"storageClassName": "shared-nfs"}, {}), ["storageClass"])
	count(public_storage.violation) == 1 with input as inp with data.microguard.config as cfg
}

test_annotated_class_is_denied if {
	vs := public_storage.violation with input as claim({"storageClassName": "open"}, {"name": "open", "annotations": {"microguard.io/public": "true"}, "default": false}) with data.microguard.config as cfg
	some v in vs
	v.message == `PersistentVolumeClaim "photos" would store its data publicly: storage class "open" is annotated microguard.io/public: "true"`
}

test_public_default_class_is_denied if {
	vs := public_storage.violation with input as claim({}, {"name": "shared-nfs", "annotations": {}, "default": true}) with data.microguard.config as cfg
	some v in vs
	v.hint == `set spec.storageClassName to a private storage class (the default, "shared-nfs", is public)`
}

test_private_classes_are_admitted if {
	count(public_storage.violation) == 0 with input as claim({"storageClassName": "ssd"}, {"name": "ssd", "annotations": {"microguard.io/public": "false"}, "default": false}) with data.microguard.config as cfg
	count(public_storage.violation) == 0 with input as claim({}, {"name": "ssd", "annotations": {}, "default": true}) with data.microguard.config as cfg
	count(public_storage.violation) == 0 with input as json.remove(claim({"storageClassName": ""}, {}), ["storageClass"]) with data.microguard.config as cfg
}

test_other_kinds_are_not_checked if {
	inp := object.union(claim({"storageClassName": "shared-nfs"}, {"name": "shared-nfs", "annotations": {}, "default": false}), {"kind": {"group": "", "version": "v1", "kind": "ConfigMap"}})
	count(public_storage.violation) == 0 with input as inp with data.microguard.config as cfg
}
