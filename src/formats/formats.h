// One include for every number format (fp16/bf16, fp8 e4m3, E2M1/E8M0, 2:4 codes).
#pragma once
#include "formats/fp16.h"
#include "formats/fp8_e4m3.h"
#include "formats/mxfp4.h"
#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"
