package org.rnn4j.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphGetNodes;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamIsCapturing;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstreamCaptureStatus;
import jcuda.driver.CUstream_flags;
import org.junit.jupiter.api.Test;

/**
 * Stream capture and graph replay through JCuda's own bindings on the stand-in driver: the
 * symbols libJCudaDriver links exist, the statuses are the driver's, and the counters that tests
 * read through JNA see the replay's nodes. Skipped where CUDA is not the stand-in.
 */
class StandinGraphsTest {

    @Test
    void aCapturedGraphReplaysAndCountsItsNodes() {
        assumeTrue(Driver.loadFailure() == null && StandinCounters.available(), "not on the stand-in driver");
        assertEquals(CUresult.CUDA_SUCCESS, cuInit(0));
        CUdevice device = new CUdevice();
        cuDeviceGet(device, 0);
        CUcontext ctx = new CUcontext();
        assertEquals(CUresult.CUDA_SUCCESS, cuDevicePrimaryCtxRetain(ctx, device));
        cuCtxSetCurrent(ctx);
        CUdeviceptr buffer = new CUdeviceptr();
        CUstream stream = new CUstream();
        assertEquals(CUresult.CUDA_SUCCESS, cuMemAlloc(buffer, 64 * 4));
        assertEquals(CUresult.CUDA_SUCCESS, cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING));
        try {
            StandinCounters.reset();
            assertEquals(CUresult.CUDA_SUCCESS, cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL));
            assertEquals(CUresult.CUDA_SUCCESS, cuMemsetD32Async(buffer, 7, 64, stream));
            int[] status = {-1};
            cuStreamIsCapturing(stream, status);
            assertEquals(CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_ACTIVE, status[0]);
            CUgraph graph = new CUgraph();
            assertEquals(CUresult.CUDA_SUCCESS, cuStreamEndCapture(stream, graph));
            long[] nodes = {-1};
            cuGraphGetNodes(graph, null, nodes);
            assertEquals(1, nodes[0]);
            CUgraphExec exec = new CUgraphExec();
            assertEquals(CUresult.CUDA_SUCCESS, cuGraphInstantiate(exec, graph, 0));
            assertEquals(CUresult.CUDA_SUCCESS, cuGraphLaunch(exec, stream));
            assertEquals(CUresult.CUDA_SUCCESS, cuStreamSynchronize(stream));
            int[] back = new int[64];
            cuMemcpyDtoH(Pointer.to(back), buffer, 64 * 4);
            int[] sevens = new int[64];
            Arrays.fill(sevens, 7);
            assertArrayEquals(sevens, back);
            assertEquals(1, StandinCounters.count("graph nodes"));
            assertEquals(1, StandinCounters.count("cuGraphLaunch"));
            assertEquals(1, StandinCounters.count("cuMemsetD32Async"));

            // An allocation during a global capture: refused, and the capture is invalidated.
            cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL);
            CUdeviceptr more = new CUdeviceptr();
            assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuMemAlloc(more, 64));
            CUgraph none = new CUgraph();
            assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(stream, none));
            cuGraphExecDestroy(exec);
            cuGraphDestroy(graph);
        } finally {
            cuStreamDestroy(stream);
            cuMemFree(buffer);
            cuDevicePrimaryCtxRelease(device);
        }
    }
}
