SWIFT ?= swift
BERG_DEBUG = .build/debug/berg
BERG_RELEASE = .build/release/berg
SITE_DIR ?= out/site

.PHONY: deps build release test test-tsan test-network test-external-kind test-reference test-browser test-slurm demo dreams registry registry-checks cards readme site clean

# System libraries (apt-get; does nothing when they are present).
deps:
	@bash Tools/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product berg

# Builds everything, validates registry/, and runs every test that needs no network.
test: deps
	$(SWIFT) build --build-tests
	$(BERG_DEBUG) registry check registry
	$(MAKE) site SITE_DIR=.build/site-check
	$(SWIFT) test --skip-build --skip BERGNetworkTests
	$(MAKE) test-external-kind

# Concurrent encodes (ConcurrentEncodeTests) under Thread Sanitizer, in a build folder of its
# own. Not part of `make test`: a sanitized build of the whole package took 10.6 minutes on
# the shared 2-core machine (the test itself, 15 s).
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build/tsan --filter ConcurrentEncodeTests

# A separate package that registers its own encoder kind and runs it through the facade
# (Tests/ExternalKindPackage); it builds BERG again in its own folder.
test-external-kind:
	$(SWIFT) run --package-path Tests/ExternalKindPackage --scratch-path .build-external external-kind-check

# The tests that fetch from PyPI (the img2fmri wheel, with pip) and download.pytorch.org (the
# real ResNet-18, for img2fmri's own test properties in MNI space).
test-network: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter BERGNetworkTests

# Checks against the Python reference libraries themselves, live (not part of `make test`, which
# needs no Python): rsatoolbox 0.3.2 loads the RDM .h5 files `berg rsa` writes and recomputes
# their numbers. Needs Tools/reference/.venv with rsatoolbox, or BERG_REFERENCE_PYTHON=/path/to/python.
test-reference: deps
	$(SWIFT) build --build-tests
	BERG_REQUIRE_REFERENCE=1 $(SWIFT) test --skip-build --filter "RSAReferenceTests|GIfTIReferenceTests"

# The catalogue site in headless Chromium (Debian's chromium, installed here): loads `berg site`'s
# pages from a loopback server, checks that the filters narrow the table, and writes the README's
# screenshots to docs/screenshots/.
test-browser: deps
	bash Tools/install-deps.sh --browser
	$(SWIFT) build --build-tests
	BERG_BROWSER_TEST=1 BERG_SCREENSHOTS=docs/screenshots $(SWIFT) test --skip-build --filter CLITests/testSiteInHeadlessChromium

# The browsable catalogue of the built-in registry (`berg site`): open $(SITE_DIR)/index.html.
# Its own BERG_HOME, so that registries added with `berg registry add` stay out of it.
site: build
	BERG_HOME=.build/site-home $(BERG_DEBUG) site --output $(SITE_DIR)

# A sharded job through a real one-node Slurm cluster on this machine (root: it installs
# slurm-wlm and munge and starts their daemons): plan, sbatch, scancel one task, rerun what
# `berg status` prints, merge, and compare with a single-process run. Tools/slurm/test-slurm.sh.
test-slurm:
	bash Tools/install-deps.sh --slurm
	$(SWIFT) build -c release --product berg
	bash Tools/slurm/test-slurm.sh

# Retinotopic mapping stimuli through the built-in pRF model (V1), with a picture of the result.
demo: release
	@mkdir -p out/demo
	$(BERG_RELEASE) stimuli retinotopy --output out/demo/stimuli
	$(BERG_RELEASE) encode fmri-kay2013-css_prf --subject 1 --roi V1 \
		--input out/demo/stimuli --output out/demo/v1.h5 --metadata --picture out/demo/v1.png
	$(BERG_RELEASE) encode fmri-kay2013-css_prf --subject 1 --roi V1 \
		--input out/demo/stimuli --output out/demo/v1.npy
	@echo "demo: responses in out/demo/v1.h5 and out/demo/v1.npy, picture in out/demo/v1.png"

# The README's dreams of three fmri-nsd-fwrf ROIs, on the tests' random fixture weights in
# BERG's layout (Tools/reference/make_attribution_fixtures.py), with lucent's default settings.
dreams: release
	rm -rf .build/dream-fixture && mkdir -p .build/dream-fixture docs/dreams
	tar -xJf Tests/BERGModelsTests/Fixtures/attribution/berg_dir.tar.xz -C .build/dream-fixture
	for roi in V1 FFA-1 PPA; do \
		$(BERG_RELEASE) dream fmri-nsd-fwrf --subject 1 --roi $$roi --berg-dir .build/dream-fixture/berg_dir \
			--output docs/dreams/$$roi.png --trace docs/dreams/$$roi.csv || exit 1; \
	done

# After adding or changing a manifest in registry/: re-embed it, re-render cards and the README table.
registry:
	bash Tools/embed-registry.sh
	$(SWIFT) build --product berg
	$(BERG_DEBUG) registry check registry
	$(MAKE) cards readme

# Records the built-in models' reproducibility checks anew (registry/checks/<id>.h5, what
# `berg verify` compares with), then embeds them. Only on purpose: a new check blesses new numbers.
registry-checks: build
	$(BERG_DEBUG) verify fmri-kay2013-css_prf --record registry/checks/fmri-kay2013-css_prf.h5
	$(MAKE) registry

cards:
	BERG_HOME=.build/site-home $(BERG_DEBUG) card --all --output model_cards

readme:
	bash Tools/update-readme.sh $(BERG_DEBUG)

clean:
	rm -rf .build .build-external out
