/*
 * A fake libnvidia-ml.so.1 for spark-exporter's tests, written by this project.
 *
 * It is compiled during the test run against NVIDIA's official nvml.h (the nvidia-nvml-dev package
 * on PyPI) and loaded by the real nvidia-ml-py through the normal library search path, so the real
 * binding's ctypes structs, versioned symbols and error classes are exercised at the C boundary.
 *
 * Behaviour comes from a JSON profile named by the FAKENVML_PROFILE environment variable; it is read
 * again whenever the file changes, so a test can lose a GPU or inject an error while the daemon runs:
 *
 *   {"driver": "580.95.05", "init_error": 0,               -- nvmlInit's answer (e.g. 9, DriverNotLoaded)
 *    "reload": 0,                                          -- changing it unloads the "driver" (Uninitialized)
 *    "errors": {"nvmlDeviceGetPowerUsage": 999},          -- per call, every GPU (NVML return codes)
 *    "hang": {"nvmlDeviceGetPowerUsage": 30},              -- seconds a call blocks before answering
 *    "process_names": {"4242": "python3"},
 *    "devices": [{"lost": false,                          -- every call on it answers GpuIsLost
 *                 "errors": {"nvmlDeviceGetClockInfo.1": 3},  -- per GPU, "fn" or "fn.arg"
 *                 "values": {"nvmlDeviceGetUUID": "GPU-...", "nvmlDeviceGetPowerUsage": 45000,
 *                            "nvmlDeviceGetClockInfo.1": 2418, "field.140.0": 52, ...},
 *                 "processes": [{"pid": 4242, "used": 1048576}], "graphics_processes": [],
 *                 "gpm": {"supported": true,               -- nvmlGpmQueryDeviceSupport's isSupportedDevice
 *                         "metrics": {"2": 45.5, "20": 900}},  -- NVML_GPM_METRIC_* id -> its value (% or MiB/s)
 *                 "xids": [79]}]}                          -- each delivered once to a registered event set
 *
 * GPM: nvmlGpmMetricsGet answers each requested metric the profile's value for the GPU both samples were taken
 * on (NOT_SUPPORTED where absent; a device error "gpm.<id>" answers that code for that metric alone). It checks
 * what the real library checks: the struct version, two distinct samples taken on one device in time order.
 * A device without "gpm" (or with "supported": false) answers isSupportedDevice 0 and NOT_SUPPORTED to samples.
 *
 * A value that is absent answers NVML_ERROR_NOT_SUPPORTED. Symbols an older driver lacks are left out
 * at compile time (-DOMIT_<symbol>), so nvidia-ml-py's own lookup fails as it does on such a driver.
 */

#define NVML_NO_UNVERSIONED_FUNC_DEFS
#include <nvml.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 64
#define KEY_LEN 160

/* ---- a small JSON tree (objects, arrays, strings, numbers, true/false/null) ------------------ */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jnode {
    enum jtype type;
    double num;
    char *str;            /* J_STR */
    int n;                /* children of J_ARR / J_OBJ */
    char **keys;          /* J_OBJ */
    struct jnode **items; /* J_ARR / J_OBJ */
} jnode;

static const char *jp;

static void jfree(jnode *j) {
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        if (j->keys) free(j->keys[i]);
        jfree(j->items[i]);
    }
    free(j->keys);
    free(j->items);
    free(j->str);
    free(j);
}

static void skip_ws(void) { while (*jp && isspace((unsigned char)*jp)) jp++; }

static jnode *jparse_value(void);

static char *jparse_string(void) {
    if (*jp != '"') return NULL;
    jp++;
    size_t cap = 32, len = 0;
    char *out = malloc(cap);
    while (*jp && *jp != '"') {
        char c = *jp++;
        if (c == '\\') {
            c = *jp++;
            if (c == 'n') c = '\n';
            else if (c == 't') c = '\t';
            else if (c == 'u') { jp += 4; c = '?'; } /* profiles are ASCII; keep the parser small */
        }
        if (len + 2 > cap) out = realloc(out, cap *= 2);
        out[len++] = c;
    }
    if (*jp != '"') { free(out); return NULL; }
    jp++;
    out[len] = 0;
    return out;
}

static void jadd(jnode *j, char *key, jnode *item) {
    j->items = realloc(j->items, sizeof(jnode *) * (j->n + 1));
    if (j->type == J_OBJ) {
        j->keys = realloc(j->keys, sizeof(char *) * (j->n + 1));
        j->keys[j->n] = key;
    }
    j->items[j->n++] = item;
}

static jnode *jparse_value(void) {
    skip_ws();
    jnode *j = calloc(1, sizeof(jnode));
    if (*jp == '{' || *jp == '[') {
        char close = *jp == '{' ? '}' : ']';
        j->type = *jp == '{' ? J_OBJ : J_ARR;
        jp++;
        skip_ws();
        if (*jp == close) { jp++; return j; }
        for (;;) {
            char *key = NULL;
            skip_ws();
            if (j->type == J_OBJ) {
                key = jparse_string();
                skip_ws();
                if (!key || *jp != ':') { free(key); jfree(j); return NULL; }
                jp++;
            }
            jnode *item = jparse_value();
            if (!item) { free(key); jfree(j); return NULL; }
            jadd(j, key, item);
            skip_ws();
            if (*jp == ',') { jp++; continue; }
            if (*jp == close) { jp++; return j; }
            jfree(j);
            return NULL;
        }
    }
    if (*jp == '"') {
        j->type = J_STR;
        j->str = jparse_string();
        if (!j->str) { jfree(j); return NULL; }
        return j;
    }
    if (!strncmp(jp, "true", 4)) { j->type = J_BOOL; j->num = 1; jp += 4; return j; }
    if (!strncmp(jp, "false", 5)) { j->type = J_BOOL; jp += 5; return j; }
    if (!strncmp(jp, "null", 4)) { j->type = J_NULL; jp += 4; return j; }
    char *end;
    j->num = strtod(jp, &end);
    if (end == jp) { jfree(j); return NULL; }
    j->type = J_NUM;
    jp = end;
    return j;
}

static jnode *jget(const jnode *obj, const char *key) {
    if (!obj || obj->type != J_OBJ) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

/* ---- the profile ------------------------------------------------------------------------------ */

struct nvmlDevice_st { unsigned int index; };
struct nvmlEventSet_st {
    int registered[MAX_DEVICES];
};
static int delivered[MAX_DEVICES]; /* how many of each device's "xids" were delivered: each one once, ever */

static struct nvmlDevice_st devices[MAX_DEVICES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static jnode *profile;
static struct timespec profile_mtime;
static off_t profile_size;
static int initialized;
static int reload_generation;

/* Re-read the profile when the file changed; called with the lock held. */
static void refresh(void) {
    const char *path = getenv("FAKENVML_PROFILE");
    struct stat st;
    if (!path || stat(path, &st) != 0) return;
    if (profile && st.st_mtim.tv_sec == profile_mtime.tv_sec && st.st_mtim.tv_nsec == profile_mtime.tv_nsec &&
        st.st_size == profile_size)
        return;
    FILE *fh = fopen(path, "rb");
    if (!fh) return;
    char *text = malloc(st.st_size + 1);
    size_t got = fread(text, 1, st.st_size, fh);
    fclose(fh);
    text[got] = 0;
    jp = text;
    jnode *parsed = jparse_value();
    free(text);
    if (!parsed) {
        fprintf(stderr, "fakenvml: cannot parse %s\n", path);
        return; /* keep the previous profile: a test may be halfway through rewriting it */
    }
    jfree(profile);
    profile = parsed;
    jnode *reload = jget(profile, "reload");
    int generation = reload && reload->type == J_NUM ? (int)reload->num : 0;
    if (generation != reload_generation) { /* a driver reload: every call is Uninitialized until nvmlInit */
        reload_generation = generation;
        initialized = 0;
    }
    profile_mtime = st.st_mtim;
    profile_size = st.st_size;
}

static jnode *device_node(unsigned int i) {
    jnode *devs = jget(profile, "devices");
    return devs && devs->type == J_ARR && (int)i < devs->n ? devs->items[i] : NULL;
}

static unsigned int device_count(void) {
    jnode *devs = jget(profile, "devices");
    int n = devs && devs->type == J_ARR ? devs->n : 0;
    return n > MAX_DEVICES ? MAX_DEVICES : (unsigned int)n;
}

static int lookup_code(const jnode *errors, const char *fn, const char *key) {
    jnode *e = jget(errors, key);
    if (!e) e = jget(errors, fn);
    return e && e->type == J_NUM ? (int)e->num : 0;
}

static double hang_seconds(const char *fn) {
    jnode *h = jget(jget(profile, "hang"), fn);
    return h && h->type == J_NUM ? h->num : 0;
}

static void maybe_hang(const char *fn) {
    pthread_mutex_lock(&lock);
    double s = hang_seconds(fn);
    pthread_mutex_unlock(&lock);
    if (s > 0) {
        struct timespec ts = {(time_t)s, (long)((s - (long)s) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/*
 * The common entry of every device call: hang if the profile says so, then check initialisation,
 * the device, a lost GPU and injected errors. On success *value is the profile's value for "key"
 * (NULL if absent). Returns the NVML return code; the lock is held on NVML_SUCCESS only.
 */
static nvmlReturn_t enter(const char *fn, nvmlDevice_t device, const char *key, jnode **value) {
    maybe_hang(fn);
    pthread_mutex_lock(&lock);
    refresh();
    nvmlReturn_t rc = NVML_SUCCESS;
    jnode *dev = NULL;
    if (!initialized) rc = NVML_ERROR_UNINITIALIZED;
    else if (device) {
        if (device < devices || device >= devices + MAX_DEVICES || !(dev = device_node(device->index)))
            rc = NVML_ERROR_INVALID_ARGUMENT;
        else {
            jnode *lost = jget(dev, "lost");
            if (lost && lost->num) rc = NVML_ERROR_GPU_IS_LOST;
        }
    }
    if (rc == NVML_SUCCESS) {
        int code = lookup_code(jget(dev, "errors"), fn, key);
        if (!code) code = lookup_code(jget(profile, "errors"), fn, key);
        rc = (nvmlReturn_t)code;
    }
    if (rc != NVML_SUCCESS) {
        pthread_mutex_unlock(&lock);
        return rc;
    }
    if (value) *value = jget(jget(dev, "values"), key);
    return NVML_SUCCESS;
}

static void leave(void) { pthread_mutex_unlock(&lock); }

/* A numeric device value: NOT_SUPPORTED when absent. */
static nvmlReturn_t number(const char *fn, nvmlDevice_t device, const char *key, double *out) {
    jnode *v = NULL;
    nvmlReturn_t rc = enter(fn, device, key, &v);
    if (rc != NVML_SUCCESS) return rc;
    rc = v && v->type == J_NUM ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) *out = v->num;
    leave();
    return rc;
}

static nvmlReturn_t string(const char *fn, nvmlDevice_t device, char *buf, unsigned int length) {
    jnode *v = NULL;
    nvmlReturn_t rc = enter(fn, device, fn, &v);
    if (rc != NVML_SUCCESS) return rc;
    if (!v || v->type != J_STR) rc = NVML_ERROR_NOT_SUPPORTED;
    else if (strlen(v->str) + 1 > length) rc = NVML_ERROR_INSUFFICIENT_SIZE;
    else strcpy(buf, v->str);
    leave();
    return rc;
}

static void keyf(char *key, const char *fn, const char *suffix, unsigned long long a) {
    snprintf(key, KEY_LEN, "%s.%s%llu", fn, suffix, a);
}

/* ---- initialisation ---------------------------------------------------------------------------- */

static nvmlReturn_t init(void) {
    maybe_hang("nvmlInit");
    pthread_mutex_lock(&lock);
    refresh();
    for (unsigned int i = 0; i < MAX_DEVICES; i++) devices[i].index = i;
    jnode *e = jget(profile, "init_error");
    nvmlReturn_t rc = e && e->type == J_NUM ? (nvmlReturn_t)e->num : NVML_SUCCESS;
    if (!profile) rc = NVML_ERROR_DRIVER_NOT_LOADED;
    if (rc == NVML_SUCCESS) initialized = 1;
    pthread_mutex_unlock(&lock);
    return rc;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return init(); }
nvmlReturn_t nvmlInit_v2(void) { return init(); }

nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = initialized ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    initialized = 0;
    pthread_mutex_unlock(&lock);
    return rc;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    default: return "Unknown Error";
    }
}

/* ---- system ------------------------------------------------------------------------------------ */

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t rc = enter("nvmlSystemGetDriverVersion", NULL, "nvmlSystemGetDriverVersion", NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *d = jget(profile, "driver");
    const char *text = d && d->type == J_STR ? d->str : "0.0";
    if (strlen(text) + 1 > length) rc = NVML_ERROR_INSUFFICIENT_SIZE;
    else strcpy(version, text);
    leave();
    return rc;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    nvmlReturn_t rc = enter("nvmlDeviceGetCount", NULL, "nvmlDeviceGetCount", NULL);
    if (rc != NVML_SUCCESS) return rc;
    *count = device_count();
    leave();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index >= MAX_DEVICES) return NVML_ERROR_INVALID_ARGUMENT;
    /* A lost GPU answers GpuIsLost here too, as real drivers do after XID 79. */
    nvmlReturn_t rc = enter("nvmlDeviceGetHandleByIndex", &devices[index], "nvmlDeviceGetHandleByIndex", NULL);
    if (rc != NVML_SUCCESS) return rc;
    *device = &devices[index];
    leave();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length) {
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%u", pid);
    nvmlReturn_t rc = enter("nvmlSystemGetProcessName", NULL, key, NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *v = jget(jget(profile, "process_names"), key);
    if (!v || v->type != J_STR) rc = NVML_ERROR_NOT_FOUND;
    else if (strlen(v->str) + 1 > length) rc = NVML_ERROR_INSUFFICIENT_SIZE;
    else strcpy(name, v->str);
    leave();
    return rc;
}

/* ---- identity ---------------------------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    return string("nvmlDeviceGetUUID", device, uuid, length);
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    return string("nvmlDeviceGetName", device, name, length);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    jnode *v = NULL;
    nvmlReturn_t rc = enter("nvmlDeviceGetPciInfo", device, "busId", &v);
    if (rc != NVML_SUCCESS) return rc;
    memset(pci, 0, sizeof *pci);
    if (!v || v->type != J_STR) rc = NVML_ERROR_NOT_SUPPORTED;
    else {
        snprintf(pci->busId, sizeof pci->busId, "%s", v->str);
        snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", v->str);
    }
    leave();
    return rc;
}

/* ---- readings ---------------------------------------------------------------------------------- */

#define SCALAR(NAME, TYPE)                                                         \
    nvmlReturn_t NAME(nvmlDevice_t device, TYPE *out) {                            \
        double v;                                                                  \
        nvmlReturn_t rc = number(#NAME, device, #NAME, &v);                        \
        if (rc == NVML_SUCCESS) *out = (TYPE)v;                                    \
        return rc;                                                                 \
    }

SCALAR(nvmlDeviceGetPowerUsage, unsigned int)
SCALAR(nvmlDeviceGetPowerManagementLimit, unsigned int)
SCALAR(nvmlDeviceGetTotalEnergyConsumption, unsigned long long)
SCALAR(nvmlDeviceGetPcieReplayCounter, unsigned int)
#ifndef OMIT_nvmlDeviceGetCurrentClocksEventReasons
SCALAR(nvmlDeviceGetCurrentClocksEventReasons, unsigned long long)
#endif
#ifndef OMIT_nvmlDeviceGetCurrentClocksThrottleReasons
SCALAR(nvmlDeviceGetCurrentClocksThrottleReasons, unsigned long long)
#endif

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    char key[KEY_LEN];
    double v;
    keyf(key, "nvmlDeviceGetClockInfo", "", type);
    nvmlReturn_t rc = number("nvmlDeviceGetClockInfo", device, key, &v);
    if (rc == NVML_SUCCESS) *clock = (unsigned int)v;
    return rc;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensor, unsigned int *temp) {
    char key[KEY_LEN];
    double v;
    keyf(key, "nvmlDeviceGetTemperature", "", sensor);
    nvmlReturn_t rc = number("nvmlDeviceGetTemperature", device, key, &v);
    if (rc == NVML_SUCCESS) *temp = (unsigned int)v;
    return rc;
}

#ifndef OMIT_nvmlDeviceGetTemperatureV
nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature) {
    char key[KEY_LEN];
    double v;
    if (temperature->version != nvmlTemperature_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    keyf(key, "nvmlDeviceGetTemperatureV", "", temperature->sensorType);
    nvmlReturn_t rc = number("nvmlDeviceGetTemperatureV", device, key, &v);
    if (rc == NVML_SUCCESS) temperature->temperature = (int)v;
    return rc;
}
#endif

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value) {
    char key[KEY_LEN];
    double v;
    keyf(key, "nvmlDeviceGetPcieThroughput", "", counter);
    nvmlReturn_t rc = number("nvmlDeviceGetPcieThroughput", device, key, &v);
    if (rc == NVML_SUCCESS) *value = (unsigned int)v;
    return rc;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                         nvmlEccCounterType_t counterType, unsigned long long *eccCounts) {
    char key[KEY_LEN];
    double v;
    snprintf(key, sizeof key, "nvmlDeviceGetTotalEccErrors.%u.%u", (unsigned)errorType, (unsigned)counterType);
    nvmlReturn_t rc = number("nvmlDeviceGetTotalEccErrors", device, key, &v);
    if (rc == NVML_SUCCESS) *eccCounts = (unsigned long long)v;
    return rc;
}

/* Several numbers from one call, "fn.part" each; NOT_SUPPORTED unless the first is present. */
static nvmlReturn_t parts(const char *fn, nvmlDevice_t device, const char **names, double *out, int n) {
    char key[KEY_LEN];
    nvmlReturn_t rc = enter(fn, device, fn, NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *vals = jget(device_node(device->index), "values");
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.%s", fn, names[i]);
        jnode *v = jget(vals, key);
        if (!v || v->type != J_NUM) {
            if (i == 0) rc = NVML_ERROR_NOT_SUPPORTED;
            out[i] = 0;
        } else out[i] = v->num;
    }
    leave();
    return rc;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *u) {
    const char *names[] = {"gpu", "memory"};
    double v[2];
    nvmlReturn_t rc = parts("nvmlDeviceGetUtilizationRates", device, names, v, 2);
    if (rc == NVML_SUCCESS) { u->gpu = (unsigned int)v[0]; u->memory = (unsigned int)v[1]; }
    return rc;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *util, unsigned int *period) {
    const char *names[] = {"utilization", "period"};
    double v[2];
    nvmlReturn_t rc = parts("nvmlDeviceGetEncoderUtilization", device, names, v, 2);
    if (rc == NVML_SUCCESS) { *util = (unsigned int)v[0]; *period = (unsigned int)v[1]; }
    return rc;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *util, unsigned int *period) {
    const char *names[] = {"utilization", "period"};
    double v[2];
    nvmlReturn_t rc = parts("nvmlDeviceGetDecoderUtilization", device, names, v, 2);
    if (rc == NVML_SUCCESS) { *util = (unsigned int)v[0]; *period = (unsigned int)v[1]; }
    return rc;
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current, nvmlEnableState_t *pending) {
    const char *names[] = {"current", "pending"};
    double v[2];
    nvmlReturn_t rc = parts("nvmlDeviceGetEccMode", device, names, v, 2);
    if (rc == NVML_SUCCESS) { *current = (nvmlEnableState_t)v[0]; *pending = (nvmlEnableState_t)v[1]; }
    return rc;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corr, unsigned int *unc,
                                       unsigned int *pending, unsigned int *failure) {
    const char *names[] = {"correctable", "uncorrectable", "pending", "failure"};
    double v[4];
    nvmlReturn_t rc = parts("nvmlDeviceGetRemappedRows", device, names, v, 4);
    if (rc == NVML_SUCCESS) {
        *corr = (unsigned int)v[0]; *unc = (unsigned int)v[1];
        *pending = (unsigned int)v[2]; *failure = (unsigned int)v[3];
    }
    return rc;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    const char *names[] = {"total", "free", "used"};
    double v[3];
    nvmlReturn_t rc = parts("nvmlDeviceGetMemoryInfo", device, names, v, 3);
    if (rc == NVML_SUCCESS) {
        memory->total = (unsigned long long)v[0];
        memory->free = (unsigned long long)v[1];
        memory->used = (unsigned long long)v[2];
    }
    return rc;
}

#ifndef OMIT_nvmlDeviceGetMemoryInfo_v2
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    const char *names[] = {"total", "reserved", "free", "used"};
    double v[4];
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlReturn_t rc = parts("nvmlDeviceGetMemoryInfo_v2", device, names, v, 4);
    if (rc == NVML_SUCCESS) {
        memory->total = (unsigned long long)v[0];
        memory->reserved = (unsigned long long)v[1];
        memory->free = (unsigned long long)v[2];
        memory->used = (unsigned long long)v[3];
    }
    return rc;
}
#endif

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int count, nvmlFieldValue_t *values) {
    char key[KEY_LEN];
    nvmlReturn_t rc = enter("nvmlDeviceGetFieldValues", device, "nvmlDeviceGetFieldValues", NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *dev = device_node(device->index);
    jnode *vals = jget(dev, "values");
    jnode *errs = jget(dev, "errors");
    for (int i = 0; i < count; i++) {
        nvmlFieldValue_t *f = &values[i];
        snprintf(key, sizeof key, "field.%u.%u", f->fieldId, f->scopeId);
        int code = lookup_code(errs, key, key);
        jnode *v = jget(vals, key);
        f->timestamp = (long long)time(NULL) * 1000000;
        f->latencyUsec = 0;
        if (code) f->nvmlReturn = (nvmlReturn_t)code;
        else if (!v || v->type != J_NUM) f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        else {
            f->nvmlReturn = NVML_SUCCESS;
            f->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
            f->value.ullVal = (unsigned long long)v->num;
        }
    }
    leave();
    return NVML_SUCCESS;
}

/* ---- processes ---------------------------------------------------------------------------------- */

/* The two-call protocol of the process lists: a count first (INSUFFICIENT_SIZE), then the entries. */
static nvmlReturn_t processes(const char *fn, const char *list, nvmlDevice_t device, unsigned int *count,
                              nvmlProcessInfo_v2_t *infos) {
    nvmlReturn_t rc = enter(fn, device, fn, NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *procs = jget(device_node(device->index), list);
    unsigned int n = procs && procs->type == J_ARR ? (unsigned int)procs->n : 0;
    if (*count < n || (!infos && n)) {
        *count = n;
        leave();
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < n; i++) {
        jnode *pid = jget(procs->items[i], "pid"), *used = jget(procs->items[i], "used");
        infos[i].pid = pid && pid->type == J_NUM ? (unsigned int)pid->num : 0;
        infos[i].usedGpuMemory = used && used->type == J_NUM ? (unsigned long long)used->num
                                                             : 0xFFFFFFFFFFFFFFFFULL; /* NVML_VALUE_NOT_AVAILABLE */
        infos[i].gpuInstanceId = 0xFFFFFFFF;
        infos[i].computeInstanceId = 0xFFFFFFFF;
    }
    *count = n;
    leave();
    return NVML_SUCCESS;
}

#ifndef OMIT_nvmlDeviceGetComputeRunningProcesses_v3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return processes("nvmlDeviceGetComputeRunningProcesses_v3", "processes", d, count, infos);
}
#endif
#ifndef OMIT_nvmlDeviceGetComputeRunningProcesses_v2
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_v2_t *infos) {
    return processes("nvmlDeviceGetComputeRunningProcesses_v2", "processes", d, count, infos);
}
#endif
#ifndef OMIT_nvmlDeviceGetGraphicsRunningProcesses_v3
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return processes("nvmlDeviceGetGraphicsRunningProcesses_v3", "graphics_processes", d, count, infos);
}
#endif
#ifndef OMIT_nvmlDeviceGetGraphicsRunningProcesses_v2
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int *count,
                                                      nvmlProcessInfo_v2_t *infos) {
    return processes("nvmlDeviceGetGraphicsRunningProcesses_v2", "graphics_processes", d, count, infos);
}
#endif

/* ---- GPM ------------------------------------------------------------------------------------------ */

struct nvmlGpmSample_st {
    int device;              /* -1 until taken */
    unsigned long long seq;  /* order of nvmlGpmSampleGet calls, 0 until taken */
};
static unsigned long long gpm_seq;

static int gpm_supported(unsigned int index) {
    jnode *gpm = jget(device_node(index), "gpm");
    if (!gpm || gpm->type != J_OBJ) return 0;
    jnode *supported = jget(gpm, "supported");
    return !supported || supported->num != 0;
}

nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *support) {
    if (!support) return NVML_ERROR_INVALID_ARGUMENT;
    if (support->version != NVML_GPM_SUPPORT_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlReturn_t rc = enter("nvmlGpmQueryDeviceSupport", device, "nvmlGpmQueryDeviceSupport", NULL);
    if (rc != NVML_SUCCESS) return rc;
    support->isSupportedDevice = (unsigned int)gpm_supported(device->index);
    leave();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *sample) {
    if (!sample) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = enter("nvmlGpmSampleAlloc", NULL, "nvmlGpmSampleAlloc", NULL);
    if (rc != NVML_SUCCESS) return rc;
    *sample = calloc(1, sizeof(struct nvmlGpmSample_st));
    if (*sample) (*sample)->device = -1;
    leave();
    return *sample ? NVML_SUCCESS : NVML_ERROR_MEMORY;
}

nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t sample) {
    if (!sample) return NVML_ERROR_INVALID_ARGUMENT;
    free(sample);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t sample) {
    if (!sample) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = enter("nvmlGpmSampleGet", device, "nvmlGpmSampleGet", NULL);
    if (rc != NVML_SUCCESS) return rc;
    if (!gpm_supported(device->index)) rc = NVML_ERROR_NOT_SUPPORTED;
    else {
        sample->device = (int)device->index;
        sample->seq = ++gpm_seq;
    }
    leave();
    return rc;
}

nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *mg) {
    char key[KEY_LEN];
    if (!mg) return NVML_ERROR_INVALID_ARGUMENT;
    if (mg->version != NVML_GPM_METRICS_GET_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlGpmSample_t s1 = mg->sample1, s2 = mg->sample2;
    if (!s1 || !s2 || s1 == s2 || !s1->seq || !s2->seq || s1->device != s2->device || s1->seq >= s2->seq ||
        s1->device < 0 || s1->device >= MAX_DEVICES || mg->numMetrics > NVML_GPM_METRIC_MAX)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlDevice_t device = &devices[s1->device];
    nvmlReturn_t rc = enter("nvmlGpmMetricsGet", device, "nvmlGpmMetricsGet", NULL);
    if (rc != NVML_SUCCESS) return rc;
    jnode *dev = device_node(device->index);
    jnode *metrics = jget(jget(dev, "gpm"), "metrics");
    for (unsigned int i = 0; i < mg->numMetrics; i++) {
        nvmlGpmMetric_t *m = &mg->metrics[i];
        snprintf(key, sizeof key, "%u", m->metricId);
        jnode *v = jget(metrics, key);
        char ekey[KEY_LEN];
        snprintf(ekey, sizeof ekey, "gpm.%u", m->metricId);
        int code = lookup_code(jget(dev, "errors"), ekey, ekey);
        m->metricInfo.shortName = m->metricInfo.longName = m->metricInfo.unit = NULL;
        if (code) { m->nvmlReturn = (nvmlReturn_t)code; m->value = 0; }
        else if (!v || v->type != J_NUM) { m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; m->value = 0; }
        else { m->nvmlReturn = NVML_SUCCESS; m->value = v->num; }
    }
    leave();
    return NVML_SUCCESS;
}

/* ---- XID events --------------------------------------------------------------------------------- */

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    nvmlReturn_t rc = enter("nvmlEventSetCreate", NULL, "nvmlEventSetCreate", NULL);
    if (rc != NVML_SUCCESS) return rc;
    *set = calloc(1, sizeof(struct nvmlEventSet_st));
    leave();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types, nvmlEventSet_t set) {
    nvmlReturn_t rc = enter("nvmlDeviceRegisterEvents", device, "nvmlDeviceRegisterEvents", NULL);
    if (rc != NVML_SUCCESS) return rc;
    if (types & nvmlEventTypeXidCriticalError) set->registered[device->index] = 1;
    leave();
    return NVML_SUCCESS;
}

/* Delivers each device's profile "xids" once; a lost GPU's XIDs are delivered too, as the driver does. */
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    for (unsigned int waited = 0;; waited += 50) {
        pthread_mutex_lock(&lock);
        refresh();
        if (!initialized) { pthread_mutex_unlock(&lock); return NVML_ERROR_UNINITIALIZED; }
        for (unsigned int i = 0; i < device_count(); i++) {
            jnode *xids = jget(device_node(i), "xids");
            if (!set->registered[i] || !xids || xids->type != J_ARR || delivered[i] >= xids->n) continue;
            memset(data, 0, sizeof *data);
            data->device = &devices[i];
            data->eventType = nvmlEventTypeXidCriticalError;
            data->eventData = (unsigned long long)xids->items[delivered[i]++]->num;
            data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFF;
            pthread_mutex_unlock(&lock);
            return NVML_SUCCESS;
        }
        pthread_mutex_unlock(&lock);
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    free(set);
    return NVML_SUCCESS;
}
