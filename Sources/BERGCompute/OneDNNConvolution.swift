#if canImport(CDNNL)
import CDNNL
#endif
import BERGCore
import Foundation

/// A convolution run by oneDNN, one image per call: each image is reordered from NCHW into
/// the layout the primitive chose (channels in blocks of 16), convolved with bias and ReLU,
/// and reordered back. One primitive per input size, made on first use.
///
/// 3×3 stride-1 convolutions use oneDNN's Winograd (F(2×2, 3×3) or F(4×4, 3×3), its choice
/// by shape; relative error about 1e-6, as direct), the others its direct convolution; both
/// are JIT kernels for the CPU's widest vectors (AVX-512 here). Measured per layer of
/// ResNet-18, AlexNet and the fwRF network at batch 64 on 2 threads, Winograd took 0.4–0.8×
/// the direct time except on AlexNet's conv3 (1.08×).
///
/// Images are spread over the engine's workers, each call single-threaded, so an image's
/// result never depends on the thread count.
final class OneDNNConvolution: @unchecked Sendable {
    let outChannels: Int
    private let inChannels: Int
    private let kernel: Size2, stride: Size2, padding: Size2, dilation: Size2
    /// [out, in, kh, kw] and [out].
    private let weight: [Float], bias: [Float]

    /// Whether oneDNN's Winograd is tried first (3×3, stride 1, undilated, 32 channels or more).
    let prefersWinograd: Bool

    /// nil where oneDNN is not available.
    init?(weight: [Float], bias: [Float]?, outChannels: Int, inChannels: Int, kernel: Size2, stride: Size2,
          padding: Size2, dilation: Size2, allowWinograd: Bool = true) {
        guard OneDNN.isAvailable else { return nil }
        self.weight = weight
        self.bias = bias ?? [Float](repeating: 0, count: outChannels)
        self.outChannels = outChannels; self.inChannels = inChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.dilation = dilation
        prefersWinograd = allowWinograd && kernel == 3 && stride == 1 && dilation == 1 && inChannels >= 32 && outChannels >= 32
    }

    #if canImport(CDNNL)
    private let lock = NSLock()
    private var plans: [PlanKey: Plan] = [:]

    private struct PlanKey: Hashable { let h: Int, w: Int, relu: Bool }

    /// The implementation oneDNN chose for an input of h × w, such as "jit_wino_4x3:avx512_core".
    func implementation(h: Int, w: Int, out o: Size2) throws -> String {
        try plan(PlanKey(h: h, w: w, relu: false), out: o).implementation
    }

    /// The primitive and reorders for one input size, and the weights in the primitive's layout.
    private final class Plan {
        var convolution: dnnl_primitive_t?
        var toBlocked: dnnl_primitive_t?, toPlain: dnnl_primitive_t?
        var weights: dnnl_memory_t?, bias: dnnl_memory_t?
        var plainSource = dnnl_memory_desc_t(), source = dnnl_memory_desc_t()
        var plainDestination = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t(), scratchpad = dnnl_memory_desc_t()
        var sourceFloats = 0, destinationFloats = 0, scratchpadFloats = 0
        var implementation = ""

        deinit {
            for p in [convolution, toBlocked, toPlain] { if let p { dnnl_primitive_destroy(p) } }
            for m in [weights, bias] { if let m { dnnl_memory_destroy(m) } }
        }
    }

    /// x [n, inChannels, h, w] (NCHW) → out [n, outChannels, o.h, o.w], with bias, plus
    /// `residual` (out's shape) when given, then ReLU when `relu`. Throws when oneDNN cannot
    /// make a primitive for this size.
    func run(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, out o: Size2, residual: UnsafePointer<Float>?,
             relu: Bool, into output: UnsafeMutablePointer<Float>) throws {
        // ReLU runs inside the primitive unless a residual must be added first.
        let plan = try self.plan(PlanKey(h: h, w: w, relu: relu && residual == nil), out: o)
        let inImage = inChannels * h * w, outImage = outChannels * o.h * o.w
        // Per worker: the blocked source, blocked destination and scratchpad, each 64-byte aligned.
        func rounded(_ floats: Int) -> Int { (floats + 15) / 16 * 16 }
        let slot = rounded(plan.sourceFloats) + rounded(plan.destinationFloats) + rounded(plan.scratchpadFloats) + 16
        let workers = Parallel.workers(for: n)
        let out = SendablePointer(output)
        var failure: Error?
        let failureLock = NSLock()
        ScratchPool.shared.withBuffer(count: workers * slot) { scratch in
            let slots = SendablePointer(scratch)
            Parallel.run(workers) { worker in
                do {
                    try OneDNN.singleThreaded {
                        var base = UnsafeMutableRawPointer(slots.p + worker * slot)
                        base = base.alignedUp(toMultipleOf: 64)
                        let blockedSource = base
                        let blockedDestination = blockedSource + 4 * rounded(plan.sourceFloats)
                        let scratchpad = blockedDestination + 4 * rounded(plan.destinationFloats)
                        var stream: dnnl_stream_t?
                        try OneDNN.check(dnnl_stream_create(&stream, OneDNN.engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
                        defer { dnnl_stream_destroy(stream) }
                        var memories: [dnnl_memory_t?] = []
                        defer { for m in memories { dnnl_memory_destroy(m) } }
                        func memory(_ desc: inout dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer?) throws -> dnnl_memory_t? {
                            var m: dnnl_memory_t?
                            try OneDNN.check(dnnl_memory_create(&m, &desc, OneDNN.engine, handle), "dnnl_memory_create")
                            memories.append(m)
                            return m
                        }
                        let plainSource = try memory(&plan.plainSource, nil)
                        let plainDestination = try memory(&plan.plainDestination, nil)
                        let source = plan.toBlocked == nil ? plainSource : try memory(&plan.source, blockedSource)
                        let destination = plan.toPlain == nil ? plainDestination : try memory(&plan.destination, blockedDestination)
                        let pad = try memory(&plan.scratchpad, plan.scratchpadFloats > 0 ? scratchpad : nil)
                        var image = worker
                        while image < n {
                            let src = UnsafeMutableRawPointer(mutating: input + image * inImage)
                            try OneDNN.check(dnnl_memory_set_data_handle(plainSource, src), "dnnl_memory_set_data_handle")
                            try OneDNN.check(dnnl_memory_set_data_handle(plainDestination, out.p + image * outImage), "dnnl_memory_set_data_handle")
                            if let toBlocked = plan.toBlocked {
                                try execute(toBlocked, stream, [(DNNL_ARG_FROM, plainSource), (DNNL_ARG_TO, source)])
                            }
                            try execute(plan.convolution!, stream, [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, plan.weights),
                                                                    (DNNL_ARG_BIAS, plan.bias), (DNNL_ARG_DST, destination),
                                                                    (DNNL_ARG_SCRATCHPAD, pad)])
                            if let toPlain = plan.toPlain {
                                try execute(toPlain, stream, [(DNNL_ARG_FROM, destination), (DNNL_ARG_TO, plainDestination)])
                            }
                            if let residual {
                                // While the image is still in cache.
                                try OneDNN.check(dnnl_stream_wait(stream), "dnnl_stream_wait")
                                let y = out.p + image * outImage
                                Conv2d.epilogue(y, from: y, residual: residual + image * outImage, channels: outChannels,
                                                plane: o.h * o.w, sourceStride: o.h * o.w, bias: nil, relu: relu)
                            }
                            image += workers
                        }
                        try OneDNN.check(dnnl_stream_wait(stream), "dnnl_stream_wait")
                    }
                } catch {
                    failureLock.lock(); failure = error; failureLock.unlock()
                }
            }
        }
        if let failure { throw failure }
    }

    private func execute(_ primitive: dnnl_primitive_t, _ stream: dnnl_stream_t?, _ arguments: [(Int32, dnnl_memory_t?)]) throws {
        let args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        try OneDNN.check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "dnnl_primitive_execute")
    }

    private func plan(_ key: PlanKey, out o: Size2) throws -> Plan {
        lock.lock(); defer { lock.unlock() }
        if let plan = plans[key] { return plan }
        // Making a primitive may run parallel loops too.
        let plan = try OneDNN.singleThreaded { try makePlan(key, out: o) }
        plans[key] = plan
        return plan
    }

    private func makePlan(_ key: PlanKey, out o: Size2) throws -> Plan {
        let plan = Plan()
        let engine = OneDNN.engine
        func desc(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
            var d = dnnl_memory_desc_t()
            let dims64 = dims.map { dnnl_dim_t($0) }
            try OneDNN.check(dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dims64, dnnl_f32, tag), "dnnl_memory_desc_init_by_tag")
            return d
        }
        let srcDims = [1, inChannels, key.h, key.w], dstDims = [1, outChannels, o.h, o.w]
        let weightDims = [outChannels, inChannels, kernel.h, kernel.w]
        plan.plainSource = try desc(srcDims, dnnl_nchw)
        plan.plainDestination = try desc(dstDims, dnnl_nchw)
        var anySource = try desc(srcDims, dnnl_format_tag_any), anyDestination = try desc(dstDims, dnnl_format_tag_any)
        var anyWeights = try desc(weightDims, dnnl_format_tag_any), biasDesc = try desc([outChannels], dnnl_x)
        let strides = [dnnl_dim_t(stride.h), dnnl_dim_t(stride.w)]
        let dilates = [dnnl_dim_t(dilation.h - 1), dnnl_dim_t(dilation.w - 1)]
        let paddingLow = [dnnl_dim_t(padding.h), dnnl_dim_t(padding.w)]
        // The high padding that makes oneDNN's output size equal PyTorch's floor rule.
        let paddingHigh = [dnnl_dim_t((o.h - 1) * stride.h + (kernel.h - 1) * dilation.h + 1 - key.h - padding.h),
                           dnnl_dim_t((o.w - 1) * stride.w + (kernel.w - 1) * dilation.w + 1 - key.w - padding.w)]
        func convolution(_ algorithm: dnnl_alg_kind_t) throws -> dnnl_convolution_desc_t {
            var d = dnnl_convolution_desc_t()
            try OneDNN.check(dnnl_dilated_convolution_forward_desc_init(
                &d, dnnl_forward_inference, algorithm, &anySource, &anyWeights, &biasDesc, &anyDestination,
                strides, dilates, paddingLow, paddingHigh), "dnnl_dilated_convolution_forward_desc_init")
            return d
        }
        var attributes: dnnl_primitive_attr_t?
        try OneDNN.check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attributes) }
        try OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
        if key.relu {
            var postOps: dnnl_post_ops_t?
            try OneDNN.check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create")
            defer { dnnl_post_ops_destroy(postOps) }
            try OneDNN.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise")
            try OneDNN.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "dnnl_primitive_attr_set_post_ops")
        }
        var descriptor: dnnl_primitive_desc_t?
        var winograd = try convolution(dnnl_convolution_winograd)
        if !prefersWinograd || dnnl_primitive_desc_create(&descriptor, &winograd, attributes, engine, nil) != dnnl_success {
            var direct = try convolution(dnnl_convolution_direct)
            try OneDNN.check(dnnl_primitive_desc_create(&descriptor, &direct, attributes, engine, nil), "dnnl_primitive_desc_create (convolution)")
        }
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var info: UnsafePointer<CChar>?
        if dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info {
            plan.implementation = String(cString: info)
        }
        plan.source = dnnl_primitive_desc_query_md(descriptor, dnnl_query_src_md, 0).pointee
        plan.destination = dnnl_primitive_desc_query_md(descriptor, dnnl_query_dst_md, 0).pointee
        plan.scratchpad = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        var blockedWeights = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0).pointee
        plan.sourceFloats = dnnl_memory_desc_get_size(&plan.source) / 4
        plan.destinationFloats = dnnl_memory_desc_get_size(&plan.destination) / 4
        plan.scratchpadFloats = (dnnl_memory_desc_get_size(&plan.scratchpad) + 3) / 4
        try OneDNN.check(dnnl_primitive_create(&plan.convolution, descriptor), "dnnl_primitive_create (convolution)")

        if dnnl_memory_desc_equal(&plan.source, &plan.plainSource) == 0 {
            plan.toBlocked = try reorder(from: &plan.plainSource, to: &plan.source)
        }
        if dnnl_memory_desc_equal(&plan.destination, &plan.plainDestination) == 0 {
            plan.toPlain = try reorder(from: &plan.destination, to: &plan.plainDestination)
        }
        // The weights, once, into the primitive's layout; the bias as it is. Memory that oneDNN
        // allocates itself is DNNL_MEMORY_ALLOCATE, (void *)-1, a macro Swift cannot import.
        let allocate = UnsafeMutableRawPointer(bitPattern: -1)
        try OneDNN.check(dnnl_memory_create(&plan.weights, &blockedWeights, engine, allocate), "dnnl_memory_create (weights)")
        try OneDNN.check(dnnl_memory_create(&plan.bias, &biasDesc, engine, allocate), "dnnl_memory_create (bias)")
        var plainWeights = try desc(weightDims, dnnl_oihw)
        do {
            var stream: dnnl_stream_t?
            try OneDNN.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
            defer { dnnl_stream_destroy(stream) }
            var source: dnnl_memory_t?
            try weight.withUnsafeBufferPointer { wp in
                try OneDNN.check(dnnl_memory_create(&source, &plainWeights, engine, UnsafeMutableRawPointer(mutating: wp.baseAddress!)),
                                 "dnnl_memory_create (weights)")
                defer { dnnl_memory_destroy(source) }
                let weightReorder = try reorder(from: &plainWeights, to: &blockedWeights)
                defer { dnnl_primitive_destroy(weightReorder) }
                try execute(weightReorder!, stream, [(DNNL_ARG_FROM, source), (DNNL_ARG_TO, plan.weights)])
            }
            var handle: UnsafeMutableRawPointer?
            try OneDNN.check(dnnl_memory_get_data_handle(plan.bias, &handle), "dnnl_memory_get_data_handle")
            bias.withUnsafeBytes { handle!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            try OneDNN.check(dnnl_stream_wait(stream), "dnnl_stream_wait")
        }
        return plan
    }

    private func reorder(from: inout dnnl_memory_desc_t, to: inout dnnl_memory_desc_t) throws -> dnnl_primitive_t? {
        var descriptor: dnnl_primitive_desc_t?
        try OneDNN.check(dnnl_reorder_primitive_desc_create(&descriptor, &from, OneDNN.engine, &to, OneDNN.engine, nil),
                         "dnnl_reorder_primitive_desc_create")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        try OneDNN.check(dnnl_primitive_create(&primitive, descriptor), "dnnl_primitive_create (reorder)")
        return primitive
    }
    #else
    func implementation(h: Int, w: Int, out o: Size2) throws -> String {
        throw BERGComputeError.oneDNN("this build has no oneDNN")
    }

    func run(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, out o: Size2, residual: UnsafePointer<Float>?,
             relu: Bool, into output: UnsafeMutablePointer<Float>) throws {
        throw BERGComputeError.oneDNN("this build has no oneDNN")
    }
    #endif
}
