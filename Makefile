SWIFT ?= swift
BERG_RELEASE = .build/release/berg

.PHONY: deps build release test demo registry-check clean

deps:
	@bash Tools/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product berg

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) run berg registry check registry
	$(SWIFT) test --skip-build

demo: release
	@mkdir -p out/demo
	$(BERG_RELEASE) stimuli retinotopy --output out/demo/stimuli
	$(BERG_RELEASE) encode fmri-kay2013-css_prf --subject 1 --roi V1 \
		--input out/demo/stimuli --output out/demo/v1.h5 --picture out/demo/v1.png
	@echo "demo: responses in out/demo/v1.h5, picture in out/demo/v1.png"

clean:
	rm -rf .build out
