#include "proto/result.h"

const char *result_name(int rc)
{
	switch (rc) {
#define EPOCH_RESULT_NAME(name, value, text) case value: return #name;
	EPOCH_RESULTS(EPOCH_RESULT_NAME)
#undef EPOCH_RESULT_NAME
	}
	return "EPOCH_ERR_UNKNOWN";
}

const char *result_text(int rc)
{
	switch (rc) {
#define EPOCH_RESULT_TEXT(name, value, text) case value: return text;
	EPOCH_RESULTS(EPOCH_RESULT_TEXT)
#undef EPOCH_RESULT_TEXT
	}
	return "unknown error";
}
