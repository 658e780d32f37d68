SWIFT ?= swift
BERG_DEBUG = .build/debug/berg
BERG_RELEASE = .build/release/berg

.PHONY: deps build release test test-network demo registry cards readme clean

# System libraries (apt-get; does nothing when they are present).
deps:
	@bash Tools/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product berg

# Builds everything, validates registry/, and runs every test.
test: deps
	$(SWIFT) build --build-tests
	$(BERG_DEBUG) registry check registry
	$(SWIFT) test --skip-build

# The tests that need the network, skipped by `make test`: img2fmri's real wheel (PyPI, with
# pip) against the group-level MNI reference, its movie, and its own test properties with the
# real ResNet-18 weights (download.pytorch.org).
test-network: deps
	$(SWIFT) build --build-tests
	BERG_NETWORK_TESTS=1 $(SWIFT) test --skip-build --filter NetworkTests

# Retinotopic mapping stimuli through the built-in pRF model (V1), with a picture of the result.
demo: release
	@mkdir -p out/demo
	$(BERG_RELEASE) stimuli retinotopy --output out/demo/stimuli
	$(BERG_RELEASE) encode fmri-kay2013-css_prf --subject 1 --roi V1 \
		--input out/demo/stimuli --output out/demo/v1.h5 --metadata --picture out/demo/v1.png
	$(BERG_RELEASE) encode fmri-kay2013-css_prf --subject 1 --roi V1 \
		--input out/demo/stimuli --output out/demo/v1.npy
	@echo "demo: responses in out/demo/v1.h5 and out/demo/v1.npy, picture in out/demo/v1.png"

# After adding or changing a manifest in registry/: re-embed it, re-render cards and the README table.
registry:
	bash Tools/embed-registry.sh
	$(SWIFT) build --product berg
	$(BERG_DEBUG) registry check registry
	$(MAKE) cards readme

cards:
	$(BERG_DEBUG) card --all --output model_cards

readme:
	bash Tools/update-readme.sh $(BERG_DEBUG)

clean:
	rm -rf .build out
