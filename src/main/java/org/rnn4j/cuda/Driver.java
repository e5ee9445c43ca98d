package org.rnn4j.cuda;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The native boundary of the driver API: loading JCuda's natives once (remembering why they did
 * not load), turning statuses into exceptions, and the small pointer subclasses that give the raw
 * {@code long} values JCuda keeps in protected fields.
 */
final class Driver {

    private static boolean loadTried;
    private static String loadFailure;

    private Driver() {
    }

    /**
     * Loads JCuda's driver natives once ({@code libJCudaDriver}, which links {@code libcuda.so.1}).
     *
     * @return {@code null} when loaded, otherwise a one-line reason. A failed class initialisation
     *         cannot be retried (the JVM then only says "Could not initialize class"), so the first
     *         reason is kept.
     */
    static synchronized String loadFailure() {
        if (!loadTried) {
            loadTried = true;
            try {
                JCudaDriver.setExceptionsEnabled(false);   // first use: runs the static initialiser
            } catch (Throwable t) {
                loadFailure = conciseLinkError(t);
            }
        }
        return loadFailure;
    }

    private static final Pattern SHARED_OBJECT = Pattern.compile(
            "([\\w.+-]+\\.so[\\w.]*: (?:cannot open shared object file|undefined symbol|version)[^\\n]*)");

    /**
     * The useful line of a native loading error. JCuda's message is a page of nested stack traces;
     * what matters is e.g. {@code libcuda.so.1: cannot open shared object file: No such file or directory}.
     */
    static String conciseLinkError(Throwable t) {
        String message = String.valueOf(t.getMessage());
        Matcher m = SHARED_OBJECT.matcher(message);
        String found = null;
        while (m.find()) {
            found = m.group(1).trim();
        }
        if (found != null) {
            return found;
        }
        String firstLine = message.lines().findFirst().orElse("").trim();
        return t.getClass().getSimpleName() + (firstLine.isEmpty() ? "" : ": " + firstLine);
    }

    /** Not among JCuda 12.6's CUresult constants. */
    static final int CUDA_ERROR_INSUFFICIENT_DRIVER = 35;

    /** The name of a {@code CUresult}, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    static String statusName(int status) {
        if (status == CUDA_ERROR_INSUFFICIENT_DRIVER) {
            return "CUDA_ERROR_INSUFFICIENT_DRIVER";
        }
        String s = CUresult.stringFor(status);
        return s == null || s.startsWith("INVALID CUresult") ? "CUresult " + status : s;
    }

    /** Throws a {@link CudaException} naming {@code call} unless {@code status} is success. */
    static void check(int status, String call) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, statusName(status), null);
        }
    }

    /** As {@link #check(int, String)}, with what the call was doing. */
    static void check(int status, String call, String detail) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, statusName(status), detail);
        }
    }

    /** A device pointer whose raw address can be read ({@code cuMemAlloc} fills it). */
    static final class DevPtr extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    /** A stream whose raw {@code CUstream} handle can be handed to a cuBLAS bound through JNA. */
    static final class Stream extends CUstream {
        long handle() {
            return getNativePointer();
        }
    }

    /** A JCuda pointer to a raw device address (for JCublas2, which takes {@link Pointer}s). */
    static final class RawPointer extends Pointer {
        RawPointer(long address) {
            super(address);
        }
    }
}
