package org.rnn4j.cuda;

/**
 * A CUDA driver or cuBLAS call that did not return success. The message names the call, the
 * status (e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}, {@code CUBLAS_STATUS_INVALID_VALUE}) and, where
 * known, what the call was doing.
 */
public class CudaException extends RuntimeException {

    private final String call;
    private final String status;

    public CudaException(String call, String status, String detail) {
        super(call + " failed: " + status + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"));
        this.call = call;
        this.status = status;
    }

    /** The driver or cuBLAS entry point that failed, e.g. {@code cuMemAlloc}. */
    public String call() {
        return call;
    }

    /** The status name it returned, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String status() {
        return status;
    }
}
